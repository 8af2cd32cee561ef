import { assign, setup } from 'xstate';

/** The states of a waiting-room token. `expired` is final. */
export type QueueTokenState = 'waiting' | 'active' | 'expired';

export interface QueueTokenContext {
  /** When the token entered its current state, or was last extended (epoch ms). */
  readonly since: number;
  /** Absolute end of the active period (epoch ms); meaningful while `active`. */
  readonly expiresAt: number;
}

export type QueueTokenEvent =
  | { readonly type: 'ADMIT'; readonly at: number; readonly expiresAt: number }
  | { readonly type: 'EXTEND'; readonly at: number; readonly expiresAt: number }
  | { readonly type: 'COMPLETE' }
  | { readonly type: 'ABANDON' }
  | { readonly type: 'SOLD_OUT' };

/**
 * The lifecycle of one waiting-room token (SPEC §3):
 * `waiting --ADMIT--> active`, `active --after activeTtl--> expired`,
 * `active --COMPLETE--> expired` (after a payment), `waiting --ABANDON--> expired`
 * (not polled for `waitingTtl`), `waiting --SOLD_OUT--> expired` (nothing is left
 * to sell, SPEC §9: nobody waits for nothing).
 *
 * `EXTEND` moves the active deadline later (never earlier) so that a user is not
 * locked out while they still hold a seat; it re-enters `active`, which re-arms
 * the `after` timer of a live actor.
 *
 * @example
 * ```ts
 * const clock = new SimulatedClock();
 * const token = createActor(queueTokenMachine, { clock }).start();
 * token.send({ type: 'ADMIT', at: 0, expiresAt: 600_000 });
 * clock.increment(600_000);
 * token.getSnapshot().value; // 'expired'
 * ```
 */
export const queueTokenMachine = setup({
  types: {
    context: {} as QueueTokenContext,
    events: {} as QueueTokenEvent,
  },
  delays: {
    activeTtl: ({ context }) => Math.max(0, context.expiresAt - context.since),
  },
  actions: {
    setDeadline: assign(({ context, event }) => {
      if (event.type !== 'ADMIT' && event.type !== 'EXTEND') return {};
      return { since: event.at, expiresAt: Math.max(context.expiresAt, event.expiresAt) };
    }),
  },
}).createMachine({
  id: 'queueToken',
  initial: 'waiting',
  context: { since: 0, expiresAt: 0 },
  states: {
    waiting: {
      on: {
        ADMIT: { target: 'active', actions: 'setDeadline' },
        ABANDON: { target: 'expired' },
        SOLD_OUT: { target: 'expired' },
      },
    },
    active: {
      after: { activeTtl: { target: 'expired' } },
      on: {
        EXTEND: { target: 'active', reenter: true, actions: 'setDeadline' },
        COMPLETE: { target: 'expired' },
      },
    },
    expired: { type: 'final' },
  },
});
