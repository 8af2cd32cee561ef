import { assign, setup } from 'xstate';

/** The states of a seat: a sold seat is `paid` until its ticket is refunded (SPEC §11). */
export type SeatState = 'available' | 'held' | 'paid';

/** What a seat knows while it is held: the reservation and its absolute deadline. */
export interface SeatContext {
  /** The reservation holding the seat, `null` while available. */
  readonly reservationId: string | null;
  /** When the seat entered its current state (epoch ms). */
  readonly since: number;
  /** Absolute end of the hold (epoch ms); meaningful while `held`. */
  readonly expiresAt: number;
}

export type SeatEvent =
  | {
      readonly type: 'HOLD';
      readonly reservationId: string;
      readonly at: number;
      readonly expiresAt: number;
    }
  | { readonly type: 'RELEASE' }
  | { readonly type: 'PAY' }
  /** Its ticket was refunded (SPEC §11): the seat may be sold again. */
  | { readonly type: 'REFUND' };

/**
 * The lifecycle of one seat (SPEC §3):
 * `available --HOLD--> held`, `held --after holdTtl--> available` (the reservation
 * expires), `held --RELEASE--> available` (cancelled), `held --PAY--> paid` (final).
 *
 * The hold deadline is absolute (`expiresAt` in context), so a restored seat can
 * re-arm exactly the time it had left: XState's persisted snapshots do not keep
 * pending `after` timers.
 *
 * The engine never runs one live actor per seat; it compiles this machine into a
 * lookup table once (see {@link compileLifecycle}) and keeps seats as plain data.
 * The machine stays a complete, runnable definition:
 *
 * @example
 * ```ts
 * const clock = new SimulatedClock();
 * const seat = createActor(seatMachine, { clock }).start();
 * seat.send({ type: 'HOLD', reservationId: 'r1', at: 0, expiresAt: 300_000 });
 * clock.increment(300_000);
 * seat.getSnapshot().value; // 'available'
 * ```
 */
export const seatMachine = setup({
  types: {
    context: {} as SeatContext,
    events: {} as SeatEvent,
  },
  delays: {
    holdTtl: ({ context }) => Math.max(0, context.expiresAt - context.since),
  },
  actions: {
    hold: assign(({ event }) => {
      if (event.type !== 'HOLD') return {};
      return { reservationId: event.reservationId, since: event.at, expiresAt: event.expiresAt };
    }),
    clear: assign({ reservationId: null }),
  },
}).createMachine({
  id: 'seat',
  initial: 'available',
  context: { reservationId: null, since: 0, expiresAt: 0 },
  states: {
    available: {
      on: { HOLD: { target: 'held', actions: 'hold' } },
    },
    held: {
      after: { holdTtl: { target: 'available', actions: 'clear' } },
      on: {
        RELEASE: { target: 'available', actions: 'clear' },
        PAY: { target: 'paid' },
      },
    },
    paid: {
      on: { REFUND: { target: 'available', actions: 'clear' } },
    },
  },
});
