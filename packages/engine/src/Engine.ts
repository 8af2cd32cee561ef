import { createActor, fromTransition, type Actor, type AnyActorLogic } from 'xstate';
import { MAX_TIMER_MS, type Clock } from './clock.js';
import type { EngineConfig } from './config.js';
import { EngineError, isEngineError } from './errors.js';
import { ChangeSet } from './persistence/ChangeSet.js';
import type { UsherEngine } from './UsherEngine.js';
import { Observers } from './watch/Observers.js';
import { TokenWatchers } from './watch/TokenWatchers.js';
import { WaitlistWatchers, type WaitlistUpdate } from './watch/WaitlistWatchers.js';
import type { Store } from './persistence/Store.js';
import type { Command, CommandOf, CommandResults, CommandType } from './supervisor/commands.js';
import type { Supervisor } from './supervisor/Supervisor.js';
import type {
  CatalogInput,
  CatalogLoadResult,
  Concert,
  EngineHealth,
  EngineStats,
  IdempotencyOptions,
  IssuedToken,
  JoinOptions,
  Payment,
  QueueToken,
  Reservation,
  ReserveRequest,
  Schedule,
  SeatList,
  TickReport,
  TokenWatcher,
  Wallet,
  EngineObserver,
  Room,
  RoomChange,
  RoomSettings,
  CheckIn,
  Ticket,
  TicketActor,
  TicketClaims,
  WaitlistEntry,
  WaitlistWatcher,
} from './types.js';

/** A command on its way into the supervisor's mailbox, with where its answer goes. */
interface Envelope {
  readonly type: 'command';
  readonly command: Command;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Timer = 'tick' | 'sweep' | 'deadline';

/** The engine's own commands: reported to observers as ticks, or not at all, never as commits. */
const INTERNAL: ReadonlySet<string> = new Set([
  'tick',
  'sweep',
  'expireDue',
  'watch',
  'unwatch',
  'watchWaitlist',
  'unwatchWaitlist',
]);

/**
 * The usher engine: a supervisor actor that owns every seat, hold, token,
 * wallet and payment, and takes one command at a time from its mailbox.
 *
 * Every method answers only once what it changed — and everything any earlier
 * command changed — is durable in the store: nothing it tells you can be lost
 * by a crash, not even a refusal that was caused by an unsaved change.
 *
 * Commands are atomic: a refusal changes nothing, and a command that faults
 * (throws anything but a refusal, or refuses after it changed something)
 * appends nothing and fails the engine, since memory may then hold half of it.
 * So does a write the store cannot make durable. A failed engine refuses every
 * command with `UNAVAILABLE` (see {@link Engine.health} and
 * {@link Engine.whenFailed}); a restart restores what is durable.
 *
 * Create one with {@link createEngine}.
 */
export class Engine implements UsherEngine {
  readonly config: EngineConfig;
  readonly #clock: Clock;
  readonly #store: Store;
  readonly #supervisor: Supervisor;
  readonly #actor: Actor<AnyActorLogic>;
  readonly #timers = new Map<Timer, unknown>();
  #deadlineAt = Infinity;
  readonly #watchers = new TokenWatchers((token) =>
    this.#ask({ type: 'unwatch', token }).catch(() => undefined),
  );
  readonly #waitlistWatchers = new WaitlistWatchers((scheduleId, userId) =>
    this.#ask({ type: 'unwatchWaitlist', scheduleId, userId }).catch(() => undefined),
  );
  #lastTickMs = 0;
  #maxTickMs = 0;
  readonly #observers = new Observers();
  #closing: Promise<void> | undefined;
  #failure: Error | undefined;
  #failed!: (failure: Error) => void;

  /**
   * Resolves, with what happened, once the engine has failed: a write the
   * store could not make durable, or a command that faulted. It never rejects,
   * and stays pending while the engine is fine (a normal close included).
   * Close the engine then (which still closes the store) and restart.
   *
   * @example
   * ```ts
   * engine.whenFailed.then(async (failure) => {
   *   logger.fatal({ err: failure }, 'the engine failed');
   *   await engine.close();
   *   process.exit(1); // a supervisor restarts the process, which restores what is durable
   * });
   * ```
   */
  readonly whenFailed: Promise<Error> = new Promise((resolve) => (this.#failed = resolve));

  /** @internal Use {@link createEngine}. */
  constructor(options: {
    config: EngineConfig;
    clock: Clock;
    store: Store;
    supervisor: Supervisor;
  }) {
    this.config = options.config;
    this.#clock = options.clock;
    this.#store = options.store;
    this.#supervisor = options.supervisor;
    const logic = fromTransition((supervisor: Supervisor, event: Envelope | { type: string }) => {
      // XState also delivers its own lifecycle events (e.g. on stop); only envelopes are commands.
      if (event.type === 'command') this.#process(event as Envelope);
      return supervisor;
    }, this.#supervisor);
    this.#actor = createActor(logic, { clock: this.#clock }).start();
    this.#every('tick', this.config.queueTickMs);
    this.#every('sweep', this.config.holdSweepMs);
    this.#armDeadline();
  }

  /**
   * `ok` while the engine takes commands; `closing` once {@link close} was
   * called; `failed` for good after a failed write or a faulted command (with
   * the `reason`). For readiness and liveness checks.
   */
  get health(): EngineHealth {
    if (this.#failure)
      return { status: 'failed', reason: this.#failure.message || String(this.#failure) };
    return this.#closing ? { status: 'closing' } : { status: 'ok' };
  }

  /** Adds concerts and schedules. Entries that exist identically are skipped; conflicting ones are refused. */
  loadCatalog(catalog: CatalogInput): Promise<CatalogLoadResult> {
    return this.#ask({ type: 'loadCatalog', catalog });
  }

  /**
   * The user's live queue token (`created: false`), or a new one. A new token
   * waits in line, or is active at once when nobody waits and there is room.
   */
  issueToken(userId: string, options: JoinOptions = {}): Promise<IssuedToken> {
    return this.#ask({
      type: 'issueToken',
      userId,
      concertId: options?.concertId,
      code: options?.code,
    });
  }

  /** A token's status, position and wait estimate. Polling keeps a waiting token from being abandoned. */
  getToken(token: string): Promise<QueueToken> {
    return this.#ask({ type: 'getToken', token });
  }

  /**
   * The user a token belongs to, or `undefined` for an unknown token. Unlike
   * {@link getToken} it is not a poll and also knows tokens kept for replays.
   */
  tokenOwner(token: string): Promise<string | undefined> {
    return this.#ask({ type: 'tokenOwner', token });
  }

  listConcerts(token: string): Promise<readonly Concert[]> {
    return this.#ask({ type: 'listConcerts', token });
  }

  /** The concert's dates that still have available seats, by start time. The list is shared and frozen: do not mutate it. */
  listSchedules(token: string, concertId: string): Promise<readonly Schedule[]> {
    return this.#ask({ type: 'listSchedules', token, concertId });
  }

  /** The available seats of a date, ascending. The list is shared and frozen: do not mutate it. */
  listSeats(token: string, scheduleId: string): Promise<SeatList> {
    return this.#ask({ type: 'listSeats', token, scheduleId });
  }

  /**
   * Holds one seat or several, in one reservation, for `holdTtlMs` (SPEC
   * §10): every seat of it is held, paid, and freed together.
   *
   * @example
   * ```ts
   * await engine.reserve(token, { scheduleId, seatNo: 7 });
   * await engine.reserve(token, { scheduleId, seatNos: [7, 8, 9] }); // all or none
   * await engine.reserve(token, { scheduleId, quantity: 2, category: 'VIP' }); // best pair in one row
   * ```
   */
  reserve(token: string, request: ReserveRequest): Promise<Reservation> {
    return this.#ask({ type: 'reserve', token, request });
  }

  /** Moves a hold's deadline `holdExtensionMs` later, at most `holdExtensions` times (SPEC §10). */
  extendReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#ask({ type: 'extendReservation', token, reservationId });
  }

  getReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#ask({ type: 'getReservation', token, reservationId });
  }

  /** The token's user's live holds and paid tickets, newest first (see {@link UsherEngine.listReservations}). */
  listReservations(
    token: string,
    options: { readonly status?: 'held' | 'paid' } = {},
  ): Promise<readonly Reservation[]> {
    return this.#ask({ type: 'listReservations', token, status: options?.status });
  }

  /** Releases a hold. Cancelling a cancelled reservation answers it again. */
  cancelReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#ask({ type: 'cancelReservation', token, reservationId });
  }

  /**
   * Pays a held reservation from the user's balance, all at once or not at
   * all. The token then expires, unless its user still holds other seats.
   */
  pay(
    token: string,
    payment: { readonly reservationId: string },
    options: IdempotencyOptions = {},
  ): Promise<Payment> {
    return this.#ask({
      type: 'pay',
      token,
      reservationId: payment.reservationId,
      idempotencyKey: options.idempotencyKey,
    });
  }

  getBalance(token: string, userId: string): Promise<Wallet> {
    return this.#ask({ type: 'getBalance', token, userId });
  }

  /** Every ticket the user holds or held, newest first (see {@link UsherEngine.listTickets}). */
  listTickets(userId: string): Promise<readonly Ticket[]> {
    return this.#ask({ type: 'listTickets', userId });
  }

  /**
   * Checks in the ticket of a verified code's claims, once (see
   * {@link UsherEngine.checkIn}). Commands run one at a time: of concurrent
   * scans of one ticket, the first wins and the rest are `ALREADY_CHECKED_IN`.
   *
   * @example
   * ```ts
   * const claims = await verifyTicketCode(keys, scanned); // @usher/engine/signing
   * if (claims) await engine.checkIn(claims);
   * ```
   */
  checkIn(claims: TicketClaims): Promise<CheckIn> {
    return this.#ask({ type: 'checkIn', claims });
  }

  /** Refunds a ticket, once (see {@link UsherEngine.refundTicket}). */
  refundTicket(
    ticketId: string,
    by: TicketActor,
    options: IdempotencyOptions = {},
  ): Promise<Ticket> {
    return this.#ask({
      type: 'refundTicket',
      ticketId,
      by,
      idempotencyKey: options?.idempotencyKey,
    });
  }

  /** Transfers a ticket to another user, once (see {@link UsherEngine.transferTicket}). */
  transferTicket(
    ticketId: string,
    transfer: { readonly userId: string; readonly toUserId: string },
    options: IdempotencyOptions = {},
  ): Promise<Ticket> {
    return this.#ask({
      type: 'transferTicket',
      ticketId,
      userId: transfer?.userId,
      toUserId: transfer?.toUserId,
      idempotencyKey: options?.idempotencyKey,
    });
  }

  /** Joins a schedule's waitlist (see {@link UsherEngine.joinWaitlist}). */
  joinWaitlist(
    token: string,
    scheduleId: string,
    request?: { readonly quantity?: unknown },
  ): Promise<WaitlistEntry> {
    return this.#ask({ type: 'joinWaitlist', token, scheduleId, request });
  }

  /** The token's user's waitlist entry (see {@link UsherEngine.getWaitlistEntry}). */
  getWaitlistEntry(token: string, scheduleId: string): Promise<WaitlistEntry> {
    return this.#ask({ type: 'getWaitlistEntry', token, scheduleId });
  }

  /** Leaves a schedule's waitlist (see {@link UsherEngine.leaveWaitlist}). */
  leaveWaitlist(token: string, scheduleId: string): Promise<WaitlistEntry> {
    return this.#ask({ type: 'leaveWaitlist', token, scheduleId });
  }

  /**
   * Watches the token's user's waitlist entry (see
   * {@link UsherEngine.watchWaitlist}): offers and changes are pushed once
   * durable; `watcher.end` (if any) when the engine closes.
   */
  async watchWaitlist(
    token: string,
    scheduleId: string,
    watcher: WaitlistWatcher,
  ): Promise<() => void> {
    const userId = (await this.tokenOwner(token)) ?? '';
    return this.#waitlistWatchers.watch(String(scheduleId), userId, watcher, () =>
      this.#ask({ type: 'watchWaitlist', token, scheduleId }),
    );
  }

  /** Spends a proof-of-work solution once (see `UsherEngine.spendChallenge`), journaled as any command. */
  spendChallenge(id: string, expiresAt: number): Promise<boolean> {
    return this.#ask({ type: 'spendChallenge', id, expiresAt });
  }

  /** Adds `amount` (integer minor units) to the user's own balance. */
  charge(
    token: string,
    charge: { readonly userId: string; readonly amount: number },
    options: IdempotencyOptions = {},
  ): Promise<Wallet> {
    return this.#ask({
      type: 'charge',
      token,
      userId: charge.userId,
      amount: charge.amount,
      idempotencyKey: options.idempotencyKey,
    });
  }

  /** Runs the scheduler now: expires what is due, then admits waiting tokens. It also runs every `queueTickMs`. */
  tick(): Promise<TickReport> {
    return this.#ask({ type: 'tick' }).then(({ report, updates }) => {
      this.#watchers.deliver(updates);
      this.#observers.tell((observer) =>
        observer.tick?.({ durationMs: this.#lastTickMs, admitted: report.admitted }),
      );
      return report;
    });
  }

  /**
   * Watches a token: `watcher.update` gets its view at once, then after each
   * scheduler tick in which its status, position or wait estimate changed. When
   * it becomes active or expires, a last update comes, then `end`. A watched
   * waiting token counts as polled, so it is not abandoned while watched.
   * Returns a function that stops watching.
   *
   * @example
   * ```ts
   * const stop = await engine.watchToken(token, {
   *   update: (view) => console.log(view.status, view.position),
   *   end: () => console.log('done'),
   * });
   * ```
   */
  watchToken(token: string, watcher: TokenWatcher): Promise<() => void> {
    return this.#watchers.watch(token, watcher, () => this.#ask({ type: 'watch', token }));
  }

  /** Runs the safety sweep now: expires overdue holds and forgets old keys. It also runs every `holdSweepMs`. */
  sweep(): Promise<void> {
    return this.#ask({ type: 'sweep' }).then(() => undefined);
  }

  ready(): Promise<void> {
    const health = this.health;
    if (health.status === 'failed')
      return Promise.reject(new EngineError('UNAVAILABLE', `the engine failed: ${health.reason}`));
    return Promise.resolve();
  }

  /** The waiting room's settings and counts (SPEC §9). */
  room(roomId?: string): Promise<Room> {
    return this.#ask({ type: 'room', roomId });
  }

  /** Every room (SPEC §12). */
  rooms(): Promise<readonly Room[]> {
    return this.#ask({ type: 'rooms' });
  }

  /** Creates one-use presale codes for a room (see {@link UsherEngine.createCodes}). */
  createCodes(roomId: string, count: number): Promise<{ readonly codes: readonly string[] }> {
    return this.#ask({ type: 'createCodes', roomId, count });
  }

  /**
   * Changes the room's settings (see {@link UsherEngine.updateRoom}): durable
   * once answered; the next tick admits (or not) by them.
   *
   * @example
   * ```ts
   * await engine.updateRoom({ opensAt: '2027-05-01T10:00:00Z', shuffle: true });
   * const { before, room } = await engine.updateRoom({ paused: true });
   * ```
   */
  updateRoom(patch: Partial<RoomSettings>, roomId?: string): Promise<RoomChange> {
    return this.#ask({ type: 'updateRoom', patch, roomId });
  }

  /**
   * Reports every tick (its duration and how many it admitted) and every
   * command whose changes became durable (its name and the time from when
   * the supervisor took it up to the durable answer) to `observer`, until
   * the returned function is called. For metrics: listeners must be quick;
   * what they throw is ignored.
   */
  observe(observer: EngineObserver): () => void {
    return this.#observers.add(observer);
  }

  stats(): Promise<EngineStats> {
    return this.#ask({ type: 'stats' }).then((stats) => ({
      ...stats,
      lastTickMs: this.#lastTickMs,
      maxTickMs: this.#maxTickMs,
    }));
  }

  /**
   * Stops the timers, refuses new commands with `SHUTTING_DOWN`, waits until
   * everything answered is durable, and closes the store. Safe to call twice,
   * and after a failure (the store is still closed).
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const handle of this.#timers.values()) this.#clock.clearTimeout(handle);
      this.#timers.clear();
      this.#watchers.endAll();
      this.#waitlistWatchers.endAll();
      this.#actor.stop();
      await this.#store.flush().catch(() => undefined);
      await this.#store.close();
    })();
    return this.#closing;
  }

  #ask<K extends CommandType>(command: CommandOf<K>): Promise<CommandResults[K]> {
    if (this.#closing || this.#failure) return Promise.reject(this.#refusal());
    return new Promise((resolve, reject) => {
      this.#actor.send({
        type: 'command',
        command,
        resolve: resolve as (value: unknown) => void,
        reject,
      } satisfies Envelope);
    });
  }

  /**
   * Runs inside the actor: one command, start to end, then its answer waits
   * for durability. What was due expires first; that is a change of its own,
   * kept even when the command is then refused.
   */
  #process({ command, resolve, reject }: Envelope): void {
    // Commands already in the mailbox when the engine failed must not touch memory either.
    if (this.#failure) return reject(this.#refusal());
    const tx = new ChangeSet();
    const now = this.#clock.now();
    let result: unknown;
    let refused: EngineError | undefined;
    let fault: Error | undefined;
    const started = command.type === 'tick' || this.#observers.size > 0 ? performance.now() : 0;
    let expired = 0;
    try {
      this.#supervisor.expireDue(now, tx);
      expired = tx.size;
      try {
        result = this.#supervisor.handle(command, now, tx);
      } catch (error) {
        if (!isEngineError(error)) throw error;
        if (tx.size > expired)
          throw new Error(`${command.type} was refused after it changed state: ${error.message}`, {
            cause: error,
          });
        refused = error;
      }
    } catch (error) {
      fault =
        error instanceof Error
          ? error
          : new Error(`${command.type} threw ${String(error)}`, { cause: error });
    }
    if (command.type === 'tick') {
      this.#lastTickMs = performance.now() - started;
      this.#maxTickMs = Math.max(this.#maxTickMs, this.#lastTickMs);
    }
    if (fault) {
      // Memory may hold half of this command, and nothing rolls it back: append none of it, and stop.
      this.#supervisor.dropWaitlistUpdates();
      this.#fail(fault);
      this.#durable([]).then(
        () => reject(this.#refusal()),
        () => reject(this.#refusal()),
      );
      return;
    }
    // A command of the API that changed something itself (not only what expired before it); ticks are reported as ticks.
    const committed =
      !refused && tx.size > expired && this.#observers.size > 0 && !INTERNAL.has(command.type);
    // Offers and waitlist changes (of the command, or of what expired before it) go out once durable.
    const waitlist: WaitlistUpdate[] = this.#supervisor.takeWaitlistUpdates();
    this.#durable(tx.changes).then(
      () => {
        if (waitlist.length > 0) this.#waitlistWatchers.deliver(waitlist);
        if (committed)
          this.#observers.tell((observer) =>
            observer.commit?.({ command: command.type, durationMs: performance.now() - started }),
          );
        return refused ? reject(refused) : resolve(result);
      },
      (error: unknown) => {
        this.#fail(error instanceof Error ? error : new Error(String(error), { cause: error }));
        reject(this.#refusal());
      },
    );
    this.#armDeadline();
  }

  /** Appends `changes` (or, with none, waits for what was appended before); resolves once durable. */
  #durable(changes: ChangeSet['changes']): Promise<void> {
    try {
      return changes.length > 0 ? this.#store.append(changes) : this.#store.flush();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** For good: stops the timers, ends every watch, and from now on refuses every command. */
  #fail(failure: Error): void {
    if (this.#failure) return;
    this.#failure = failure;
    for (const handle of this.#timers.values()) this.#clock.clearTimeout(handle);
    this.#timers.clear();
    this.#watchers.endAll();
    this.#waitlistWatchers.endAll();
    this.#failed(failure);
  }

  #refusal(): EngineError {
    if (this.#failure) {
      return new EngineError('UNAVAILABLE', 'the engine failed and must be restarted', {
        cause: this.#failure,
      });
    }
    return new EngineError('SHUTTING_DOWN', 'the engine is shutting down');
  }

  #every(timer: 'tick' | 'sweep', ms: number): void {
    this.#timers.set(
      timer,
      this.#clock.setTimeout(() => {
        if (this.#closing || this.#failure) return;
        this.#every(timer, ms);
        (timer === 'tick' ? this.tick() : this.sweep()).catch(() => undefined);
      }, ms),
    );
  }

  /** One timer for the earliest deadline of all holds and tokens. */
  #armDeadline(): void {
    const at = this.#supervisor.nextDeadline();
    if (at >= this.#deadlineAt || this.#closing || this.#failure) return;
    const previous = this.#timers.get('deadline');
    if (previous !== undefined) this.#clock.clearTimeout(previous);
    this.#deadlineAt = at;
    const delay = Math.min(Math.max(0, at - this.#clock.now()), MAX_TIMER_MS);
    this.#timers.set(
      'deadline',
      this.#clock.setTimeout(() => {
        this.#timers.delete('deadline');
        this.#deadlineAt = Infinity;
        if (this.#closing || this.#failure) return;
        this.#ask({ type: 'expireDue' }).catch(() => undefined);
      }, delay),
    );
  }
}
