import type { QueueTokenState } from '../machines/queueTokenMachine.js';
import type { RoomInput, RoomState } from '../rules/room.js';
import type { TokenEndReason } from '../types.js';

/** One price for a contiguous range of seats, both ends included. */
export interface PriceTier {
  readonly from: number;
  readonly to: number;
  readonly price: number;
  /** The tier's category (`"VIP"`, `"R"`, …), shown on its seats (SPEC §10). */
  readonly name?: string;
}

export interface ConcertRecord {
  readonly id: string;
  readonly title: string;
  readonly artist?: string;
  readonly venue?: string;
  /** Its own waiting room's settings as the catalog gave them (SPEC §12); absent: the default room. */
  readonly room?: RoomInput;
}

export interface ScheduleRecord {
  readonly id: string;
  readonly concertId: string;
  /** ISO 8601. */
  readonly startsAt: string;
  readonly totalSeats: number;
  /** Cover `1..totalSeats` without gaps, ascending. */
  readonly prices: readonly PriceTier[];
  /** Row 1 is seats `1..k`, row 2 `k+1..2k`, …; absent: all seats are one row. */
  readonly seatsPerRow?: number;
}

export type ReservationStatus = 'held' | 'paid' | 'expired' | 'cancelled';

/** One seat of a reservation, at its price, with its tier's category if it has one. */
export interface ReservedSeat {
  readonly seatNo: number;
  readonly price: number;
  readonly category?: string;
}

/**
 * Seats are not stored: a seat is held or paid exactly when a reservation says
 * so. A reservation holds one seat or several (SPEC §10); records written
 * before orders existed have no `seats` and no `amount` (read them with
 * `seatsOf` and `amountOf`).
 */
export interface ReservationRecord {
  readonly id: string;
  readonly userId: string;
  readonly scheduleId: string;
  /** The first (lowest) seat. */
  readonly seatNo: number;
  /** The first seat's price. */
  readonly price: number;
  /** Every seat, ascending; absent on records of one seat written before orders. */
  readonly seats?: readonly ReservedSeat[];
  /** What paying costs: the sum of the seats' prices; absent means `price`. */
  readonly amount?: number;
  status: ReservationStatus;
  /** Epoch ms. */
  readonly createdAt: number;
  /** End of the hold, epoch ms; moved later by an extension. */
  expiresAt: number;
  /** How many times the hold was extended; absent means 0. */
  extensions?: number;
  /** When it left `held`, epoch ms. */
  endedAt?: number;
  /**
   * `waitlist`: offered from the schedule's waitlist (SPEC §11) by
   * `decideOffers`; its owner pays, extends or cancels it with any known
   * token of theirs, not only an active one. Absent: a hold the user took.
   */
  readonly origin?: 'waitlist';
}

/**
 * A token as stored. The last poll time is not stored (polls are reads): a
 * restart gives every waiting token a full `waitingTtl` from the restart.
 */
export interface TokenRecord {
  readonly token: string;
  readonly userId: string;
  readonly status: QueueTokenState;
  /** Place in the waiting line; smaller came first. */
  readonly seq: number;
  readonly issuedAt: number;
  /** Active: end of the active period. Expired (kept for idempotent replays): when it is forgotten. */
  readonly expiresAt?: number;
  /** Expired for a reason (nothing left to sell): kept to be answered with it. */
  readonly reason?: TokenEndReason;
  /** Its room (SPEC §12), a concert's id; absent: the default room. */
  readonly room?: string;
  /** Joined with a presale code: at the head of its room's line. */
  readonly priority?: true;
}

export interface WalletRecord {
  readonly userId: string;
  balance: number;
  /** Σ charges, so invariant 2 (`balance = charged − paid`) can be checked. */
  charged: number;
  /** Σ payments. */
  paid: number;
  /** Σ refunds of tickets (SPEC §11); absent means 0. `balance = charged − paid + refunded`. */
  refunded?: number;
}

export interface PaymentRecord {
  readonly id: string;
  readonly reservationId: string;
  readonly userId: string;
  readonly amount: number;
  /** Balance after the payment. */
  readonly balance: number;
  readonly createdAt: number;
}

/** The first successful answer to an idempotent request, replayed for retries. */
export interface IdempotencyRecord {
  readonly userId: string;
  readonly key: string;
  /** What was asked (command and arguments); a retry must ask the same. */
  readonly fingerprint: string;
  readonly result: unknown;
  readonly createdAt: number;
}

/**
 * The waiting room's settings and state (SPEC §9), kept under the key
 * `room`. Stores written before it existed have none: the engine then starts
 * from the configuration (`initialRoom`).
 */
export type RoomRecord = RoomState;

/** A durable counter, e.g. `admittedTotal` (tokens ever admitted), kept as it moves rather than recounted. */
export interface CounterRecord {
  readonly value: number;
}

/** A spent proof-of-work solution, kept under its challenge's signature until its challenge expires. */
export interface SpentRecord {
  /** Epoch ms. */
  readonly expiresAt: number;
}

/**
 * A room of its own (SPEC §12), under the concert's id in `rooms`: its state
 * and its admitted count. (The default room keeps `room` and `counters`.)
 */
export interface RoomOfConcertRecord {
  readonly room: RoomState;
  readonly admittedTotal: number;
}

/** A presale code, kept under its SHA-256 in `codes`: its room, and when it was spent (once). */
export interface CodeRecord {
  readonly room: string;
  readonly spentAt?: number;
}

export type TicketStatus = 'valid' | 'checked_in' | 'refunded' | 'transferred';

/**
 * A ticket (SPEC §11): one seat of a paid reservation, held by `holder`.
 * Payment issues one per seat, with the id {@link ticketIdOf}; a transfer
 * ends it (`transferred`, `transferredTo` the new one) and issues the
 * receiver a new ticket of the same seat and reservation with a fresh id
 * (`transferredFrom` the old one). Tickets are never deleted.
 */
export interface TicketRecord {
  readonly id: string;
  readonly reservationId: string;
  readonly scheduleId: string;
  readonly concertId: string;
  readonly seatNo: number;
  /** What was paid for the seat; what a refund gives back. */
  readonly price: number;
  /** The user it belongs to (the payer, or a transfer's receiver). */
  readonly holder: string;
  status: TicketStatus;
  /** Epoch ms: the payment, or the transfer that issued it. */
  readonly createdAt: number;
  /** Epoch ms, once checked in. */
  checkedInAt?: number;
  /** Epoch ms, once refunded or transferred. */
  endedAt?: number;
  /** Refunded: by its holder or by an operator. */
  refundedBy?: 'holder' | 'operator';
  /** Transferred: the receiver's new ticket. */
  transferredTo?: string;
  /** Issued by a transfer: the ticket it replaced. */
  readonly transferredFrom?: string;
}

/**
 * A user's entry on a schedule's waitlist (SPEC §11), under `String(seq)` in
 * `waitlist`. Removed when `offered === quantity` (fulfilled) or the user leaves.
 */
export interface WaitlistRecord {
  readonly scheduleId: string;
  readonly userId: string;
  /** Order of joining, strictly increasing per engine: smaller came first. */
  readonly seq: number;
  /** Seats asked for. */
  readonly quantity: number;
  /** Seats offered so far (never more than `quantity`). */
  offered: number;
  /** Epoch ms. */
  readonly joinedAt: number;
}

/** Every collection the engine persists, and the type of its records. */
export interface Records {
  concerts: ConcertRecord;
  schedules: ScheduleRecord;
  tokens: TokenRecord;
  reservations: ReservationRecord;
  wallets: WalletRecord;
  payments: PaymentRecord;
  idempotency: IdempotencyRecord;
  room: RoomRecord;
  counters: CounterRecord;
  spent: SpentRecord;
  rooms: RoomOfConcertRecord;
  codes: CodeRecord;
  tickets: TicketRecord;
  waitlist: WaitlistRecord;
}

export type CollectionName = keyof Records;

export const collectionNames: readonly CollectionName[] = [
  'concerts',
  'schedules',
  'tokens',
  'reservations',
  'wallets',
  'payments',
  'idempotency',
  'room',
  'counters',
  'spent',
  'rooms',
  'codes',
  'tickets',
  'waitlist',
];

/** Collections added after snapshots were first written: an older snapshot without them reads them as empty. */
export const laterCollections: ReadonlySet<CollectionName> = new Set<CollectionName>([
  'room',
  'counters',
  'spent',
  'rooms',
  'codes',
  'tickets',
  'waitlist',
]);
