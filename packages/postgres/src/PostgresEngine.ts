import {
  EngineError,
  type CatalogInput,
  type CatalogLoadResult,
  type Clock,
  type Concert,
  type EngineConfig,
  type EngineHealth,
  type EngineObserver,
  type EngineStats,
  type IdempotencyOptions,
  type IssuedToken,
  type JoinOptions,
  type Payment,
  type QueueToken,
  type Reservation,
  type ReserveRequest,
  type Room,
  type RoomChange,
  type RoomSettings,
  type Schedule,
  type SeatList,
  type TickReport,
  type TokenWatcher,
  type UsherEngine,
  type Wallet,
  type CheckIn,
  type Ticket,
  type TicketActor,
  type TicketClaims,
  type WaitlistEntry,
  type WaitlistWatcher,
} from '@usher/engine';
import { lifecyclesFor, Observers } from '@usher/engine/rules';
import type pg from 'pg';
import { CommandRunner } from './CommandRunner.js';
import { listConcerts, listSchedules, listSeats, loadCatalog } from './commands/catalog.js';
import { spendChallenge } from './commands/challenges.js';
import {
  cancelReservation,
  extendReservation,
  getReservation,
  listReservations,
} from './commands/holds.js';
import { issueToken } from './commands/issueToken.js';
import { pay } from './commands/pay.js';
import { reserve } from './commands/reserve.js';
import {
  createCodes,
  listRooms,
  readRoomView,
  roomById,
  stats,
  updateRoom,
} from './commands/room.js';
import { checkIn, listTickets, refundTicket, transferTicket } from './commands/tickets.js';
import { pollSlackMs, pollToken, tokenOwner } from './commands/tokens.js';
import { charge, getBalance } from './commands/wallet.js';
import { Keeper } from './keeper/Keeper.js';
import { LineMirror } from './LineMirror.js';
import { ensureRoom, ensureRooms } from './room.js';
import { WatchedTokens } from './WatchedTokens.js';
import { WatchedWaitlists } from './WatchedWaitlists.js';
import {
  firstWatchedView,
  getWaitlistEntry,
  joinWaitlist,
  leaveWaitlist,
} from './commands/waitlist.js';

/**
 * The usher engine over PostgreSQL: the same {@link UsherEngine} as the
 * embedded engine, deciding with the same rules (`@usher/engine/rules`), with
 * PostgreSQL as the system of record. Any number of instances, in any number
 * of processes, run over one database; each keeps only what it can rebuild.
 * Its parts, each with one job:
 *
 * - {@link CommandRunner}: how a command runs (read the view, decide with the
 *   rule, apply as conditional writes, again if another engine won), with
 *   reads and applies of one kind batched; the commands themselves, one
 *   module per family, in `commands/`.
 * - {@link LineMirror}: this instance's picture of the waiting line, fed by
 *   the keeper's published steps (positions without counting the queue).
 * - {@link WatchedTokens}: the event streams, told after each step.
 * - {@link Keeper}: the scheduler (ticks, sweeps), one instance at a time.
 *
 * **Failure.** PostgreSQL unreachable: commands refuse with `UNAVAILABLE` and
 * work again once it is back (the pool reconnects); the LISTEN connection
 * reconnects and catches up. `health` is `ok` or `closing`, never `failed`,
 * and `whenFailed` stays pending: nothing in an instance can go out of step
 * with the database.
 *
 * Create one with {@link createPostgresEngine}.
 */
export class PostgresEngine implements UsherEngine {
  readonly config: EngineConfig;
  /** Stays pending: an instance keeps no state that could go out of step with the database. */
  readonly whenFailed: Promise<Error> = new Promise(() => undefined);
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #runner: CommandRunner;
  readonly #line: LineMirror;
  readonly #watched: WatchedTokens;
  readonly #waitlists: WatchedWaitlists;
  readonly #keeper: Keeper;
  readonly #observers = new Observers();
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createPostgresEngine}. */
  constructor(options: {
    pool: pg.Pool;
    ownsPool: boolean;
    clock: Clock;
    config: EngineConfig;
    keeper: boolean;
    commandSlots: number;
  }) {
    this.config = options.config;
    this.#pool = options.pool;
    this.#ownsPool = options.ownsPool;
    const lifecycles = lifecyclesFor(this.config);
    this.#line = new LineMirror({
      pool: this.#pool,
      config: this.config,
      lifecycles,
      moved: () => this.#watched.refresh(),
      // The waitlist's changes, from whichever instance made them (migration 9's usher_waitlist).
      channels: { usher_waitlist: (scheduleId) => this.#waitlists.heard(scheduleId) },
      listening: () => this.#waitlists.listening(),
    });
    this.#runner = new CommandRunner({
      pool: this.#pool,
      clock: options.clock,
      config: this.config,
      lifecycles,
      line: this.#line,
      observers: this.#observers,
      commandSlots: options.commandSlots,
    });
    this.#watched = new WatchedTokens(this.#runner, pollSlackMs(this.config));
    this.#waitlists = new WatchedWaitlists(this.#runner);
    this.#keeper = new Keeper(this.#runner, options.keeper);
  }

  /** @internal Creates the room if new, loads the line, listens for keeper steps, and arms the keeper's timers. */
  async start(): Promise<void> {
    await ensureRoom(this.#pool, this.config);
    // Rooms of concerts a catalog load cut short did not create yet (published by the next step).
    await ensureRooms(this.#pool, this.config, this.#runner.clock.now());
    await this.#line.start();
    this.#keeper.start();
  }

  /** `ok`, or `closing` once {@link close} was called. A database that cannot be reached is not a failure: commands answer `UNAVAILABLE` until it is back. */
  get health(): EngineHealth {
    return this.#closing ? { status: 'closing' } : { status: 'ok' };
  }

  /** Resolves when the database answers within a second (see {@link LineMirror.ping}); `UNAVAILABLE` otherwise. */
  async ready(): Promise<void> {
    if (this.#closing) throw new EngineError('UNAVAILABLE', 'the engine is closing');
    await this.#line.ping();
  }

  /** Whether this instance is the keeper now (holds the keeper lock). */
  get isKeeper(): boolean {
    return this.#keeper.held;
  }

  loadCatalog(catalog: CatalogInput): Promise<CatalogLoadResult> {
    return loadCatalog(this.#runner, catalog);
  }

  issueToken(userId: string, options?: JoinOptions): Promise<IssuedToken> {
    return issueToken(this.#runner, userId, options);
  }

  getToken(token: string): Promise<QueueToken> {
    return this.#runner.run((now) => pollToken(this.#runner, token, now));
  }

  tokenOwner(token: string): Promise<string | undefined> {
    return this.#runner.run((now) => tokenOwner(this.#runner, token, now));
  }

  watchToken(token: string, watcher: TokenWatcher): Promise<() => void> {
    return this.#watched.watch(token, watcher, () =>
      this.#runner.run((now) => pollToken(this.#runner, token, now)),
    );
  }

  listConcerts(token: string): Promise<readonly Concert[]> {
    return listConcerts(this.#runner, token);
  }

  listSchedules(token: string, concertId: string): Promise<readonly Schedule[]> {
    return listSchedules(this.#runner, token, concertId);
  }

  listSeats(token: string, scheduleId: string): Promise<SeatList> {
    return listSeats(this.#runner, token, scheduleId);
  }

  reserve(token: string, request: ReserveRequest): Promise<Reservation> {
    return reserve(this.#runner, token, request);
  }

  extendReservation(token: string, reservationId: string): Promise<Reservation> {
    return extendReservation(this.#runner, token, reservationId);
  }

  getReservation(token: string, reservationId: string): Promise<Reservation> {
    return getReservation(this.#runner, token, reservationId);
  }

  listReservations(
    token: string,
    options: { readonly status?: 'held' | 'paid' } = {},
  ): Promise<readonly Reservation[]> {
    return listReservations(this.#runner, token, options);
  }

  cancelReservation(token: string, reservationId: string): Promise<Reservation> {
    return cancelReservation(this.#runner, token, reservationId);
  }

  pay(
    token: string,
    payment: { readonly reservationId: string },
    options: IdempotencyOptions = {},
  ): Promise<Payment> {
    return pay(this.#runner, token, payment, options);
  }

  getBalance(token: string, userId: string): Promise<Wallet> {
    return getBalance(this.#runner, token, userId);
  }

  charge(
    token: string,
    wallet: { readonly userId: string; readonly amount: number },
    options: IdempotencyOptions = {},
  ): Promise<Wallet> {
    return charge(this.#runner, token, wallet, options);
  }

  listTickets(userId: string): Promise<readonly Ticket[]> {
    return listTickets(this.#runner, userId);
  }

  checkIn(claims: TicketClaims): Promise<CheckIn> {
    return checkIn(this.#runner, claims);
  }

  refundTicket(
    ticketId: string,
    by: TicketActor,
    options: IdempotencyOptions = {},
  ): Promise<Ticket> {
    return refundTicket(this.#runner, ticketId, by, options);
  }

  transferTicket(
    ticketId: string,
    transfer: { readonly userId: string; readonly toUserId: string },
    options: IdempotencyOptions = {},
  ): Promise<Ticket> {
    return transferTicket(this.#runner, ticketId, transfer, options);
  }

  /** Joins a schedule's waitlist (SPEC §11, see `UsherEngine.joinWaitlist`). */
  joinWaitlist(
    token: string,
    scheduleId: string,
    request?: { readonly quantity?: unknown },
  ): Promise<WaitlistEntry> {
    return joinWaitlist(this.#runner, token, scheduleId, request);
  }

  getWaitlistEntry(token: string, scheduleId: string): Promise<WaitlistEntry> {
    return getWaitlistEntry(this.#runner, token, scheduleId);
  }

  leaveWaitlist(token: string, scheduleId: string): Promise<WaitlistEntry> {
    return leaveWaitlist(this.#runner, token, scheduleId);
  }

  /** Watches the token's user's entry: offers and changes made on any instance are pushed (see {@link WatchedWaitlists}). */
  watchWaitlist(token: string, scheduleId: string, watcher: WaitlistWatcher): Promise<() => void> {
    return this.#waitlists.watch(watcher, () => firstWatchedView(this.#runner, token, scheduleId));
  }

  /** Spends a proof-of-work solution (see `UsherEngine.spendChallenge`): once across every instance, durable at once. */
  spendChallenge(id: string, expiresAt: number): Promise<boolean> {
    return spendChallenge(this.#runner, id, expiresAt);
  }

  /** Runs a scheduler tick now, on this instance (steps never overlap, whoever runs them). */
  tick(): Promise<TickReport> {
    return this.#runner.run((now) => this.#keeper.tick(now));
  }

  /** Runs the safety sweep now, on this instance. */
  sweep(): Promise<void> {
    return this.#runner.run((now) => this.#keeper.sweep(now));
  }

  /** A room (SPEC §9, §12) as the database holds it (see {@link findRoomView}); with its id when asked by it. */
  room(roomId?: string): Promise<Room> {
    return this.#runner.run((now) =>
      roomId === undefined ? readRoomView(this.#pool, now) : roomById(this.#pool, now, roomId),
    );
  }

  /** Every room (SPEC §12): the default one, then the rooms of concerts by id. */
  rooms(): Promise<readonly Room[]> {
    return this.#runner.run((now) => listRooms(this.#pool, now));
  }

  /** Presale codes (SPEC §12). */
  createCodes(roomId: string, count: number): Promise<{ readonly codes: readonly string[] }> {
    return createCodes(this.#runner, roomId, count);
  }

  /** Changes the room's settings (see `UsherEngine.updateRoom`), published as a step to every instance. */
  updateRoom(patch: Partial<RoomSettings>, roomId?: string): Promise<RoomChange> {
    return updateRoom(this.#runner, patch, roomId);
  }

  /** Reports this instance's ticks (as the keeper, or asked for with {@link tick}), commits and faults to `observer` until the returned function is called. */
  observe(observer: EngineObserver): () => void {
    return this.#observers.add(observer);
  }

  stats(): Promise<EngineStats> {
    return stats(this.#runner, this.#keeper, this.#watched.size);
  }

  /**
   * Stops the timers, ends every watch, waits for the commands in flight,
   * gives up the keeper's lock and the LISTEN connection, and ends the pool if
   * the engine created it. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#keeper.stopTimers();
      await this.#runner.close();
      // After the commands in flight: a watch being set up has had its first view by now.
      this.#watched.endAll();
      this.#waitlists.endAll();
      this.#keeper.stop();
      await this.#line.close();
      if (this.#ownsPool) await this.#pool.end();
    })();
    return this.#closing;
  }
}
