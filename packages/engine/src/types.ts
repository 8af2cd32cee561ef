import type { QueueTokenState } from './machines/queueTokenMachine.js';
import type {
  PriceTier,
  ReservationStatus,
  TicketRecord,
  TicketStatus,
} from './persistence/records.js';
import type { RoomInput } from './rules/room.js';

export type { PriceTier, ReservationStatus, RoomInput, TicketStatus };
export type TokenStatus = QueueTokenState;

/** A waiting-room token as users see it. Times are ISO 8601. */
export interface QueueToken {
  readonly token: string;
  readonly userId: string;
  readonly status: TokenStatus;
  /**
   * 1-based rank among waiting tokens; 0 once active (or expired). `null`
   * while the room waits for its opening (SPEC §9): places are drawn at
   * `opensAt`.
   */
  readonly position: number | null;
  /**
   * Expected wait until admission, from the observed admission rate; 0 once
   * active. Before the opening: the time until `opensAt` plus the expected
   * wait of the middle of the crowd that waits for it.
   */
  readonly estimatedWaitSeconds: number;
  readonly issuedAt: string;
  /** Waiting: when it is abandoned unless polled again. Active: end of the active period. */
  readonly expiresAt: string;
  /** Waiting before the room opens (`position: null`): when it opens, ISO 8601. */
  readonly opensAt?: string;
  /** Expired: why, when the engine knows (`sold_out`: nothing is left to sell). */
  readonly reason?: TokenEndReason;
  /**
   * The room it was issued for (SPEC §12): a concert's id for a concert with
   * a room of its own, `default` otherwise. A pass's `room` claim.
   */
  readonly room: string;
}

/** Why a token ended, when it matters to its user. */
export type TokenEndReason = 'sold_out';

/** The answer to {@link Engine.issueToken}: `created` is false when the user already had a live token. */
export interface IssuedToken {
  readonly token: QueueToken;
  readonly created: boolean;
}

export interface Concert {
  readonly id: string;
  readonly title: string;
  readonly artist?: string;
  readonly venue?: string;
  /** The concert's own room (SPEC §12), whose tokens reach it: its id. Absent: the `default` room. */
  readonly room?: string;
}

/** A date of a concert with how many seats are still available. */
export interface Schedule {
  readonly id: string;
  readonly concertId: string;
  readonly startsAt: string;
  readonly totalSeats: number;
  readonly availableSeats: number;
  /** Seats per row, when the date has rows (SPEC §10): row 1 is `1..k`, row 2 `k+1..2k`, … */
  readonly seatsPerRow?: number;
}

export interface Seat {
  readonly seatNo: number;
  readonly price: number;
  /** The seat's price tier `name`, when it has one (SPEC §10). */
  readonly category?: string;
}

/** The available seats of one schedule, ascending by `seatNo`. */
export interface SeatList {
  readonly scheduleId: string;
  readonly seats: readonly Seat[];
}

/** A seat of a reservation. */
export interface ReservationSeat {
  readonly seatNo: number;
  readonly price: number;
  readonly category?: string;
}

/**
 * A hold of one seat or several (SPEC §10). `seatNo` and `price` are its
 * first seat's (as before orders); `seats` lists them all and `amount` is
 * what paying costs.
 */
export interface Reservation {
  readonly id: string;
  readonly userId: string;
  readonly scheduleId: string;
  readonly seatNo: number;
  readonly price: number;
  readonly seats: readonly ReservationSeat[];
  readonly amount: number;
  readonly status: ReservationStatus;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** How many times the hold was extended. */
  readonly extensions: number;
  /** `waitlist`: a hold offered from the schedule's waitlist (SPEC §11); absent for a hold the user took. */
  readonly origin?: 'waitlist';
}

/**
 * What `POST /reservations` asks for (SPEC §10): exactly one of a seat
 * (`seatNo`), several seats all or none (`seatNos`), or the best `quantity`
 * seats (of `category`, `together` in one row by default).
 */
export type ReserveRequest =
  | { readonly scheduleId: string; readonly seatNo: number }
  | { readonly scheduleId: string; readonly seatNos: readonly number[] }
  | {
      readonly scheduleId: string;
      readonly quantity: number;
      readonly category?: string;
      readonly together?: boolean;
    };

export interface Wallet {
  readonly userId: string;
  readonly balance: number;
}

export interface Payment {
  readonly id: string;
  readonly reservationId: string;
  readonly userId: string;
  readonly amount: number;
  /** Balance after the payment. */
  readonly balance: number;
  readonly createdAt: string;
}

/**
 * A ticket as its holder sees it (SPEC §11), without its `code`: the code is
 * a signature over {@link TicketClaims}, added where the keys are
 * (`withCode` of `@usher/engine/signing`; the HTTP API always adds it).
 * Times are ISO 8601.
 */
export interface Ticket extends Readonly<
  Pick<
    TicketRecord,
    'id' | 'reservationId' | 'scheduleId' | 'concertId' | 'seatNo' | 'price' | 'holder' | 'status'
  >
> {
  /** When it was issued: the payment, or the transfer that made it. */
  readonly createdAt: string;
  readonly checkedInAt?: string;
  /** When it was refunded. */
  readonly refundedAt?: string;
  /** When it was transferred away. */
  readonly transferredAt?: string;
}

/**
 * What a ticket code vouches for (SPEC §11): the ticket `tid`, its schedule
 * `sch`, its seat `seat` and its holder `sub`, signed in this order.
 */
export interface TicketClaims {
  readonly tid: string;
  readonly sch: string;
  readonly seat: number;
  readonly sub: string;
}

/** A successful check-in (SPEC §11, `POST /checkin`). */
export interface CheckIn {
  readonly ticketId: string;
  readonly scheduleId: string;
  readonly seatNo: number;
  readonly checkedInAt: string;
}

/**
 * Who refunds a ticket: its holder (before `refundCutoffMs` ahead of the
 * show), or an operator (any unused ticket, any time).
 */
export type TicketActor = { readonly userId: string } | { readonly operator: true };

/** A concert to load. */
export interface ConcertInput {
  readonly id: string;
  readonly title: string;
  readonly artist?: string;
  readonly venue?: string;
  /** A waiting room of its own (SPEC §12), named by the concert's id: any of these settings, the rest from the configuration. */
  readonly room?: RoomInput;
}

/**
 * A date to load. Give either one `price` for every seat or `prices`, tiers
 * that cover `1..totalSeats` without gaps or overlaps.
 */
export interface ScheduleInput {
  readonly id: string;
  readonly concertId: string;
  readonly startsAt: string;
  readonly totalSeats: number;
  readonly price?: number;
  readonly prices?: readonly PriceTier[];
  /** Seats per row (row 1 is `1..k`, …); absent: one row. */
  readonly seatsPerRow?: number;
}

export interface CatalogInput {
  readonly concerts: readonly ConcertInput[];
  readonly schedules: readonly ScheduleInput[];
}

/** What {@link Engine.loadCatalog} added; entries that already existed identically are skipped. */
export interface CatalogLoadResult {
  readonly concertsAdded: number;
  readonly schedulesAdded: number;
}

/** Options of idempotent commands (pay, charge). */
export interface IdempotencyOptions {
  /** Same key from the same user: the first successful answer is replayed (and marked: `isReplay(answer)`). */
  readonly idempotencyKey?: string;
}

/** What one run of the scheduler did. */
export interface TickReport {
  readonly admitted: number;
  readonly waiting: number;
  readonly active: number;
  /** With rooms of concerts (SPEC §12): the same figures of each room, by id (the totals above are their sums). */
  readonly rooms?: Readonly<
    Record<string, { readonly admitted: number; readonly waiting: number; readonly active: number }>
  >;
}

/** How a token joins (SPEC §12): a concert's room, and a presale code of that room. */
export interface JoinOptions {
  /** Joins the room of this concert (its own, or the default room); absent: the default room. */
  readonly concertId?: string | undefined;
  /** A presale code of that room, unused: the token goes to the head of the line (`CODE_INVALID` otherwise). */
  readonly code?: string | undefined;
}

/** Counts, for health checks, metrics and tests. */
export interface EngineStats {
  readonly concerts: number;
  readonly schedules: number;
  readonly waitingTokens: number;
  readonly activeTokens: number;
  readonly heldSeats: number;
  readonly paidSeats: number;
  readonly reservations: number;
  readonly payments: number;
  readonly wallets: number;
  readonly idempotencyKeys: number;
  /** Current estimate of admissions per second. */
  readonly admissionRatePerSecond: number;
  /** Tokens with at least one watcher. */
  readonly watchedTokens: number;
  /** How long the last scheduler tick took, and the longest so far (ms). */
  readonly lastTickMs: number;
  readonly maxTickMs: number;
}

/**
 * Whether the engine takes commands (see {@link Engine.health}). `failed` is
 * for good: a write failed, or a command faulted halfway, so memory may differ
 * from the store. Every command is then refused with `UNAVAILABLE`, and only a
 * restart, which restores what is durable, recovers.
 */
export interface EngineHealth {
  readonly status: 'ok' | 'closing' | 'failed';
  /** With `failed`: what happened, for operators (logs, health checks); not meant for end users. */
  readonly reason?: string;
}

/**
 * A user's place on a schedule's waitlist (SPEC §11, "Waitlist"). `position`
 * is 1-based: the schedule's entries ahead of this one, plus one.
 */
export interface WaitlistEntry {
  readonly scheduleId: string;
  readonly userId: string;
  readonly position: number;
  /** Seats asked for (1..`maxSeatsPerOrder`). */
  readonly quantity: number;
  /** Seats offered so far (holds of `origin: "waitlist"`); the entry is gone once it reaches `quantity`. */
  readonly offered: number;
  /** ISO 8601. */
  readonly joinedAt: string;
}

/** Receives a watched waitlist entry's updates (see {@link UsherEngine.watchWaitlist}). */
export interface WaitlistWatcher {
  /** The entry as it is now: at once, then at every change; `undefined` once it is gone (fulfilled or left), after which nothing more comes. */
  entry(entry: WaitlistEntry | undefined): void;
  /** A hold offered to the user from this waitlist, once it is durable. */
  reservation(reservation: Reservation): void;
  /** No more updates will come though the entry may still exist: the engine is closing or failed. */
  end?(): void;
}

/** Receives a watched token's updates (see {@link Engine.watchToken}). */
export interface TokenWatcher {
  /** The token as it is now; called at once, then whenever status, position or wait change (at most once per tick). */
  update(token: QueueToken): void;
  /** No more updates will come: the token is active or expired (after its last update), or the engine is closing or failed. */
  end(): void;
}

/**
 * The waiting room's live settings (SPEC §9), changed by an operator without
 * a restart; durable, and taken into account at the next tick.
 */
export interface RoomSettings {
  /** Nobody is admitted while true. */
  readonly paused: boolean;
  /** Tokens admitted per tick at most (starts as `queueAdmitPerTick`). */
  readonly admitPerTick: number;
  /** Active tokens at most (starts as `queueMaxActive`); lowering it throws nobody out. */
  readonly maxActive: number;
  /** ISO 8601 instant the sale opens at, or null when it is open. Before it, nobody is admitted and positions are null. */
  readonly opensAt: string | null;
  /** At `opensAt`, whether everyone who joined before it is put in a uniformly random (cryptographic, durable) order. */
  readonly shuffle: boolean;
}

/** The room: its settings and its counts. */
export interface Room extends RoomSettings {
  /** Its id (SPEC §12): `default`, or the id of the concert it is the room of. */
  readonly id?: string;
  readonly waiting: number;
  readonly active: number;
  /** Tokens ever admitted (a durable counter, kept as they are admitted). */
  readonly admittedTotal: number;
  /**
   * Nothing is left to sell (no available and no held seat in any schedule),
   * as of the last tick: waiting tokens were ended with `reason: "sold_out"`,
   * and new ones are issued already expired with it.
   */
  readonly soldOut: boolean;
}

/** An operator's change: what was asked, the room before and after (for the audit log). */
export interface RoomChange {
  readonly before: Room;
  readonly room: Room;
}

/** What an engine reports as it works, for metrics. Listeners must be quick and must not throw. */
export interface EngineObserver {
  /** A tick this process ran (as the keeper, for the PostgreSQL engine): how long it took and how many it admitted. */
  tick?(report: { readonly durationMs: number; readonly admitted: number }): void;
  /**
   * A command's changes became durable: how long from its start (when the
   * engine took it up, after any wait for its turn) to the durable answer.
   * Only commands of the API that changed something (refusals, reads and
   * replays commit nothing; ticks and sweeps are not commands, see `tick`).
   */
  commit?(report: { readonly command: string; readonly durationMs: number }): void;
  /**
   * Work the engine does on its own (a keeper's tick or sweep) failed, and
   * not because the database could not be reached: e.g. a write that did not
   * touch exactly the rows its decision named (rolled back: nothing of it
   * applied). For the log; the engine goes on, and tries again at the next tick.
   */
  fault?(report: { readonly source: 'tick' | 'sweep'; readonly error: Error }): void;
}
