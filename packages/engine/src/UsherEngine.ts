import type { EngineConfig } from './config.js';
import type {
  CatalogInput,
  CatalogLoadResult,
  Concert,
  EngineHealth,
  EngineObserver,
  EngineStats,
  IdempotencyOptions,
  IssuedToken,
  JoinOptions,
  Payment,
  QueueToken,
  Reservation,
  ReserveRequest,
  Room,
  RoomChange,
  RoomSettings,
  Schedule,
  SeatList,
  TickReport,
  TokenWatcher,
  Wallet,
  CheckIn,
  Ticket,
  TicketActor,
  TicketClaims,
  WaitlistEntry,
  WaitlistWatcher,
} from './types.js';

/**
 * What every usher engine offers, whatever keeps its state: the embedded
 * engine ({@link createEngine}: memory, a journal, one process) and the
 * PostgreSQL engine (`@usher/postgres`: any number of processes over one
 * database). `@usher/koa` and the server take this interface.
 *
 * Both decide with the same rules (`@usher/engine/rules`) and keep the same
 * promises: a command's answer comes only once what it changed is durable;
 * a refusal is an `EngineError` with a stable `code` and changes nothing.
 */
export interface UsherEngine {
  readonly config: EngineConfig;
  /** `ok`, `closing`, or `failed` (with a reason). A PostgreSQL engine that cannot reach its database is not failed: its commands answer `UNAVAILABLE` until it can. */
  readonly health: EngineHealth;
  /** Resolves once the engine has failed for good (a restart is needed); stays pending otherwise. */
  readonly whenFailed: Promise<Error>;
  /**
   * Resolves when the engine can take commands now; rejects with an
   * `EngineError` `UNAVAILABLE` when it cannot (failed; for the PostgreSQL
   * engine, its database does not answer within a second). For readiness checks.
   */
  ready(): Promise<void>;

  /** Adds concerts and schedules. Entries that exist identically are skipped; conflicting ones are refused. */
  loadCatalog(catalog: CatalogInput): Promise<CatalogLoadResult>;
  /**
   * The user's live queue token of the room (`created: false`), or a new one.
   * `options.concertId` joins that concert's room (SPEC §12: `CONCERT_NOT_FOUND`
   * for none); `options.code`, a presale code of that room, puts the new token
   * at the head of the line and is spent with it (`CODE_INVALID` if unknown,
   * of another room or spent).
   */
  issueToken(userId: string, options?: JoinOptions): Promise<IssuedToken>;
  /** A token's status, position and wait estimate. Polling keeps a waiting token from being abandoned. */
  getToken(token: string): Promise<QueueToken>;
  /** The user a token belongs to, or `undefined` for an unknown token; not a poll. */
  tokenOwner(token: string): Promise<string | undefined>;
  /** Pushes the token's view at once, then its changes after each tick, until it is active or expired. Answers a function that stops watching. */
  watchToken(token: string, watcher: TokenWatcher): Promise<() => void>;

  listConcerts(token: string): Promise<readonly Concert[]>;
  /** The concert's dates that still have available seats, by start time. */
  listSchedules(token: string, concertId: string): Promise<readonly Schedule[]>;
  /** The available seats of a date, ascending. */
  listSeats(token: string, scheduleId: string): Promise<SeatList>;

  /**
   * Holds one seat or several, in one reservation, for `holdTtlMs`: a seat
   * (`seatNo`), several all or none (`seatNos`), or the best `quantity`
   * (of a `category`, `together` in one row by default). SPEC §10.
   */
  reserve(token: string, request: ReserveRequest): Promise<Reservation>;
  /** Moves a hold's deadline `holdExtensionMs` later, at most `holdExtensions` times. */
  extendReservation(token: string, reservationId: string): Promise<Reservation>;
  getReservation(token: string, reservationId: string): Promise<Reservation>;
  /**
   * The token's user's live holds and paid tickets, newest first; `status`
   * (`held` or `paid`) keeps one kind. The token need only be known: a kept
   * token (ended after a payment) still lists its user's paid tickets.
   */
  listReservations(
    token: string,
    options?: { readonly status?: 'held' | 'paid' },
  ): Promise<readonly Reservation[]>;
  /** Releases a hold. Cancelling a cancelled reservation answers it again. */
  cancelReservation(token: string, reservationId: string): Promise<Reservation>;

  /** Pays a held reservation from the user's balance, all at once or not at all. */
  pay(
    token: string,
    payment: { readonly reservationId: string },
    options?: IdempotencyOptions,
  ): Promise<Payment>;
  getBalance(token: string, userId: string): Promise<Wallet>;
  /** Adds `amount` (integer minor units) to the user's own balance. */
  charge(
    token: string,
    charge: { readonly userId: string; readonly amount: number },
    options?: IdempotencyOptions,
  ): Promise<Wallet>;

  /**
   * Every ticket `userId` holds or held (SPEC §11), newest first: `valid`,
   * `checked_in`, and the ones refunded or transferred away. The caller has
   * identified the user (the owner of a known queue token, kept ones
   * included, or a signed-in user): tickets outlive the waiting room.
   */
  listTickets(userId: string): Promise<readonly Ticket[]>;
  /**
   * Checks in the ticket a door scanner read: `claims` are those of a code
   * whose signature the caller verified (`verifyTicketCode` of
   * `@usher/engine/signing`). `valid → checked_in` once: of any number of
   * concurrent check-ins of one ticket, on any processes, exactly one
   * succeeds; the others are `ALREADY_CHECKED_IN` (with the first
   * `checkedInAt`). Claims that match no ticket are `TICKET_INVALID`; a
   * refunded or transferred ticket is `TICKET_VOID`.
   */
  checkIn(claims: TicketClaims): Promise<CheckIn>;
  /**
   * Refunds a ticket (SPEC §11): `refunded`, its price back in the holder's
   * wallet, its seat free again, all at once and once. `by.userId` must hold
   * it (else `TICKET_NOT_FOUND`) and ask at least `refundCutoffMs` before its
   * show (else `REFUND_CLOSED`); `by.operator` refunds any unused ticket any
   * time (without a key). Checked in: `ALREADY_CHECKED_IN`; refunded or
   * transferred: `TICKET_VOID`. A holder's key replays the first answer.
   */
  refundTicket(ticketId: string, by: TicketActor, options?: IdempotencyOptions): Promise<Ticket>;
  /**
   * Transfers `userId`'s ticket to `toUserId` (SPEC §11): the ticket becomes
   * `transferred` (its code is `TICKET_VOID` at the door) and the receiver
   * gets a new `valid` ticket of the same seat, with a new id (the answer).
   * Not once checked in; the receiver's `maxTicketsPerUser` counts. A key
   * replays the first answer.
   */
  transferTicket(
    ticketId: string,
    transfer: { readonly userId: string; readonly toUserId: string },
    options?: IdempotencyOptions,
  ): Promise<Ticket>;

  /**
   * Joins the schedule's waitlist (SPEC §11) with an active token of the
   * schedule's concert's room (as a hold): only while no seat of it is for
   * sale (`SEATS_AVAILABLE`), once (`WAITLIST_JOINED`, `details.position`),
   * `quantity` seats (default 1, 1..`maxSeatsPerOrder`) within
   * `maxTicketsPerUser` (`TICKET_LIMIT_REACHED`). Seats freed later (expiry,
   * cancel, refund) become holds of the entries in order, `origin: "waitlist"`.
   */
  joinWaitlist(
    token: string,
    scheduleId: string,
    request?: { readonly quantity?: unknown },
  ): Promise<WaitlistEntry>;
  /** The token's user's entry on the schedule's waitlist (any known token); `WAITLIST_NOT_FOUND` for none. */
  getWaitlistEntry(token: string, scheduleId: string): Promise<WaitlistEntry>;
  /** Leaves the schedule's waitlist (any known token): answers the removed entry; `WAITLIST_NOT_FOUND` for none. */
  leaveWaitlist(token: string, scheduleId: string): Promise<WaitlistEntry>;
  /**
   * Watches the token's user's entry (any known token; `WAITLIST_NOT_FOUND`
   * for none): `watcher.entry` at once and at every change, `watcher.reservation`
   * with each hold offered to the user from this list once it is durable;
   * `watcher.entry(undefined)` last, when the entry is gone (fulfilled or
   * left). Answers a function that stops watching.
   */
  watchWaitlist(token: string, scheduleId: string, watcher: WaitlistWatcher): Promise<() => void>;

  /**
   * Spends a one-time proof (a proof-of-work solution, named by its challenge's
   * signature): `true` the first time, `false` when it was spent before. Durable
   * once answered, like every command: a restart does not forget it. It is
   * remembered until `expiresAt` (epoch ms, when its challenge expires) and
   * forgotten by a sweep after that. A malformed id or time is `VALIDATION_FAILED`.
   */
  spendChallenge(id: string, expiresAt: number): Promise<boolean>;
  /** Runs the scheduler now: expires what is due, then admits waiting tokens. */
  tick(): Promise<TickReport>;
  /** Runs the safety sweep now: expires overdue holds and forgets old keys. */
  sweep(): Promise<void>;
  stats(): Promise<EngineStats>;
  /** A waiting room's settings and counts (SPEC §9): the default room's, or `roomId`'s (SPEC §12; `ROOM_NOT_FOUND` for none). */
  room(roomId?: string): Promise<Room>;
  /** Every room (SPEC §12): `default` first, then each concert's own, as they were added. */
  rooms(): Promise<readonly Room[]>;
  /**
   * Creates `count` (1..1000) one-use presale codes for the room, kept as their
   * hashes only: the answer is the one place the codes themselves appear.
   */
  createCodes(roomId: string, count: number): Promise<{ readonly codes: readonly string[] }>;
  /**
   * Changes the room's settings: durable once answered, used by the next tick
   * (and by issuing at once). Anything but known fields of the right type and
   * range (`admitPerTick`, `maxActive` within `configBounds`; `opensAt` an
   * ISO 8601 instant with a time zone, or null) is `VALIDATION_FAILED`, and
   * changes nothing. See `decideUpdateRoom` (`@usher/engine/rules`) for what `opensAt` does.
   */
  updateRoom(patch: Partial<RoomSettings>, roomId?: string): Promise<RoomChange>;
  /** Reports ticks and commits to `observer` until the returned function is called. */
  observe(observer: EngineObserver): () => void;
  /** Stops, waits until everything answered is durable, and releases what it holds. Safe to call twice. */
  close(): Promise<void>;
}
