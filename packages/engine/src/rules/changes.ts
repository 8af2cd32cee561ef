import type { QueueTokenState } from '../machines/queueTokenMachine.js';
import type {
  ConcertRecord,
  IdempotencyRecord,
  PaymentRecord,
  ReservationRecord,
  ScheduleRecord,
  TicketRecord,
  WaitlistRecord,
} from '../persistence/records.js';
import type { TokenEndReason } from '../types.js';
import type { RoomState } from './room.js';

/**
 * A token as the rules see it: the snapshot of a {@link queueTokenMachine}
 * as plain data, whatever engine keeps it.
 */
export interface TokenState {
  readonly token: string;
  readonly userId: string;
  readonly status: QueueTokenState;
  /** Place in the waiting line: smaller came first. */
  readonly seq: number;
  readonly issuedAt: number;
  /** Active: end of the active period. Expired (kept for replays): when it is forgotten. Waiting: 0. */
  readonly expiresAt: number;
  /** Expired for a reason (`sold_out`): kept, and answered with it when polled. */
  readonly reason?: TokenEndReason | undefined;
  /** The room it was issued for (SPEC §12); absent: the default room. */
  readonly room?: string | undefined;
  /** Joined with a presale code: it stands at the head of its room's line, before everyone without one. */
  readonly priority?: boolean | undefined;
}

/**
 * Room-wide changes (`tokensAdmitted`, `tokensSoldOut`, `roomChanged`) are
 * about the room the decision was made for: an engine applies each decision
 * of a room to that room.
 *
 * What a decision changes, as facts an engine applies: the embedded engine
 * to its memory and journal, the PostgreSQL engine as conditional writes that
 * restate what the decision assumed. One decision's changes are applied all
 * together or not at all.
 */
export type StateChange =
  /** A new token, waiting or (nobody waiting, room left) active at once (then it counts in `admittedTotal`). */
  | { readonly type: 'tokenIssued'; readonly token: TokenState }
  /** The first `count` waiting tokens, in line order, become active until `expiresAt` (and count in the room's `admittedTotal`). */
  | { readonly type: 'tokensAdmitted'; readonly count: number; readonly expiresAt: number }
  /** Every waiting token expires: nothing is left to sell (the token machine's `SOLD_OUT`); each is kept until {@link keptUntil} with `reason: "sold_out"`. */
  | { readonly type: 'tokensSoldOut' }
  /** The room's settings and state are now `room`; a new `room.draw` puts the places it covers in its order (the opening). */
  | { readonly type: 'roomChanged'; readonly room: RoomState }
  /** Presale codes of `room` exist, kept as their hashes (SPEC §12). */
  | { readonly type: 'codesCreated'; readonly room: string; readonly hashes: readonly string[] }
  /** The code with this hash is spent at `at` (by the join that carries this change); never again usable. */
  | {
      readonly type: 'codeSpent';
      readonly room: string;
      readonly hash: string;
      readonly at: number;
    }
  /** An active token's deadline moves later (to cover a hold). */
  | { readonly type: 'tokenExtended'; readonly token: string; readonly expiresAt: number }
  /** After a payment the token expires; it is kept until `keepUntil` so retries can be answered. */
  | { readonly type: 'tokenCompleted'; readonly token: string; readonly keepUntil: number }
  /**
   * A new hold of one seat or several (`reservation.seats`): every one of its
   * seats becomes held. A hold offered from the waitlist (SPEC §11) is one
   * too, with `reservation.origin: "waitlist"` (then it comes with a
   * `waitlistOffered`, after the change that freed its seats).
   */
  | { readonly type: 'reservationHeld'; readonly reservation: ReservationRecord }
  /** A held reservation's deadline moves to `expiresAt`, its `extensions`-th extension (SPEC §10). */
  | {
      readonly type: 'reservationExtended';
      readonly id: string;
      readonly expiresAt: number;
      readonly extensions: number;
    }
  /** `held →` `paid`, `cancelled` or `expired` at `at` (the reservation lifecycle's answer); every seat of it follows. */
  | {
      readonly type: 'reservationEnded';
      readonly id: string;
      readonly status: 'paid' | 'cancelled' | 'expired';
      readonly at: number;
    }
  | { readonly type: 'walletCredited'; readonly userId: string; readonly amount: number }
  /** The wallet is debited `payment.amount` (to `payment.balance`) and the payment recorded. */
  | { readonly type: 'paymentMade'; readonly payment: PaymentRecord }
  | { readonly type: 'keyRemembered'; readonly record: IdempotencyRecord }
  /**
   * New `valid` tickets (SPEC §11): a payment's, one per seat of its
   * reservation (ids `ticketIdOf(reservationId, seatNo)`), or a transfer's
   * one for the receiver (a fresh id). Never an id that exists.
   */
  | { readonly type: 'ticketsIssued'; readonly tickets: readonly TicketRecord[] }
  /**
   * A ticket leaves `valid` for `status` at `at` (the ticket machine's
   * answer), once: a store applies it only to a ticket still `valid`
   * (PostgreSQL: `… WHERE status = 'valid'`), and another decision won if it
   * is not. `refundedBy` with `refunded`, `transferredTo` (the new ticket's id)
   * with `transferred`.
   */
  | {
      readonly type: 'ticketChanged';
      readonly id: string;
      readonly status: 'checked_in' | 'refunded' | 'transferred';
      readonly at: number;
      readonly refundedBy?: 'holder' | 'operator';
      readonly transferredTo?: string;
    }
  /** A refund (SPEC §11): `amount` back to the wallet (`balance` and `refunded` both grow by it; `maxBalance` does not apply). */
  | { readonly type: 'walletRefunded'; readonly userId: string; readonly amount: number }
  /**
   * A sold seat is free again (its ticket was refunded): `paid → available`
   * for the seat machine, and it no longer counts as its reservation's. The
   * one change by which sold seats come back (`freeSeat` decides it: the
   * waitlist of SPEC §11 will hook there).
   */
  | {
      readonly type: 'seatFreed';
      readonly scheduleId: string;
      readonly seatNo: number;
      readonly reservationId: string;
      readonly cause: 'refund';
    }
  /** A user joins a schedule's waitlist (SPEC §11): `entry.offered` is 0, `entry.seq` the next one. */
  | { readonly type: 'waitlistJoined'; readonly entry: WaitlistRecord }
  /** The user's entry on the schedule's waitlist is removed (they left). */
  | { readonly type: 'waitlistLeft'; readonly scheduleId: string; readonly userId: string }
  /**
   * `seats` seats were offered to the user's entry, as the hold
   * `reservationId` (a `reservationHeld` of the same decision): its `offered`
   * grows by `seats`; at `quantity` the entry is removed (fulfilled).
   */
  | {
      readonly type: 'waitlistOffered';
      readonly scheduleId: string;
      readonly userId: string;
      readonly reservationId: string;
      readonly seats: number;
    }
  | {
      readonly type: 'catalogAdded';
      readonly concerts: readonly ConcertRecord[];
      readonly schedules: readonly ScheduleRecord[];
    };

/** A decision: the changes to apply, and the answer to give once they are durable. Refusals are thrown as `EngineError`. */
export interface Decision<A> {
  readonly changes: readonly StateChange[];
  readonly answer: A;
}

export const unchanged = <A>(answer: A): Decision<A> => ({ changes: [], answer });
