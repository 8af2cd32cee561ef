import { setup } from 'xstate';

/** The states of a reservation (SPEC §2). `paid`, `expired` and `cancelled` are final. */
export type ReservationState = 'held' | 'paid' | 'expired' | 'cancelled';

export interface ReservationContext {
  /** When the hold started (epoch ms). */
  readonly since: number;
  /** Absolute end of the hold (epoch ms). */
  readonly expiresAt: number;
}

export type ReservationEvent = { readonly type: 'PAY' } | { readonly type: 'CANCEL' };

/**
 * The lifecycle of one reservation: `held --PAY--> paid`,
 * `held --CANCEL--> cancelled`, `held --after holdTtl--> expired`. Its seat
 * follows in step ({@link seatMachine}): held while the reservation is, paid
 * when it is paid, available again otherwise.
 *
 * Like the other machines, the deadline is absolute (`expiresAt` in context),
 * so a restored live actor re-arms exactly the time it had left; engines use
 * it compiled, with `holdTtl` provided as the configured hold time
 * (see {@link lifecyclesFor}).
 *
 * @example
 * ```ts
 * const clock = new SimulatedClock();
 * const hold = createActor(reservationMachine, { clock, input: { since: 0, expiresAt: 300_000 } }).start();
 * clock.increment(300_000);
 * hold.getSnapshot().value; // 'expired'
 * ```
 */
export const reservationMachine = setup({
  types: {
    context: {} as ReservationContext,
    events: {} as ReservationEvent,
    input: {} as ReservationContext | undefined,
  },
  delays: {
    holdTtl: ({ context }) => Math.max(0, context.expiresAt - context.since),
  },
}).createMachine({
  id: 'reservation',
  initial: 'held',
  context: ({ input }) => ({ since: input?.since ?? 0, expiresAt: input?.expiresAt ?? 0 }),
  states: {
    held: {
      after: { holdTtl: { target: 'expired' } },
      on: {
        PAY: { target: 'paid' },
        CANCEL: { target: 'cancelled' },
      },
    },
    paid: { type: 'final' },
    expired: { type: 'final' },
    cancelled: { type: 'final' },
  },
});
