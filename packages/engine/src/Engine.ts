import { createActor, fromTransition, type Actor, type AnyActorLogic } from 'xstate';
import { MAX_TIMER_MS, type Clock } from './clock.js';
import type { EngineConfig } from './config.js';
import { EngineError } from './errors.js';
import { ChangeSet } from './persistence/ChangeSet.js';
import type { Store } from './persistence/Store.js';
import type { Command, CommandOf, CommandResults, CommandType } from './supervisor/commands.js';
import type { Supervisor } from './supervisor/Supervisor.js';
import type {
  CatalogInput,
  CatalogLoadResult,
  Concert,
  EngineStats,
  IdempotencyOptions,
  IssuedToken,
  Payment,
  QueueToken,
  Reservation,
  Schedule,
  SeatList,
  TickReport,
  TokenWatcher,
  Wallet,
} from './types.js';

/** A command on its way into the supervisor's mailbox, with where its answer goes. */
interface Envelope {
  readonly type: 'command';
  readonly command: Command;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Timer = 'tick' | 'sweep' | 'deadline';

/** A watcher, and the updates held back until it has had the initial view. */
interface Watch {
  readonly watcher: TokenWatcher;
  held: QueueToken[] | undefined;
}

/**
 * The usher engine: a supervisor actor that owns every seat, hold, token,
 * wallet and payment, and takes one command at a time from its mailbox.
 *
 * Every method answers only once what it changed — and everything any earlier
 * command changed — is durable in the store: nothing it tells you can be lost
 * by a crash, not even a refusal that was caused by an unsaved change.
 *
 * Create one with {@link createEngine}.
 */
export class Engine {
  readonly config: EngineConfig;
  readonly #clock: Clock;
  readonly #store: Store;
  readonly #supervisor: Supervisor;
  readonly #actor: Actor<AnyActorLogic>;
  readonly #timers = new Map<Timer, unknown>();
  #deadlineAt = Infinity;
  readonly #watchers = new Map<string, Set<Watch>>();
  #lastTickMs = 0;
  #maxTickMs = 0;
  #closing: Promise<void> | undefined;
  #failure: unknown;

  /** @internal Use {@link createEngine}. */
  constructor(options: { config: EngineConfig; clock: Clock; store: Store; supervisor: Supervisor }) {
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

  /** Adds concerts and schedules. Entries that exist identically are skipped; conflicting ones are refused. */
  loadCatalog(catalog: CatalogInput): Promise<CatalogLoadResult> {
    return this.#ask({ type: 'loadCatalog', catalog });
  }

  /**
   * The user's live queue token (`created: false`), or a new one. A new token
   * waits in line, or is active at once when nobody waits and there is room.
   */
  issueToken(userId: string): Promise<IssuedToken> {
    return this.#ask({ type: 'issueToken', userId });
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

  /** Holds a seat for `holdTtlMs`. */
  reserve(token: string, seat: { readonly scheduleId: string; readonly seatNo: number }): Promise<Reservation> {
    return this.#ask({ type: 'reserve', token, scheduleId: seat.scheduleId, seatNo: seat.seatNo });
  }

  getReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#ask({ type: 'getReservation', token, reservationId });
  }

  /** Releases a hold. Cancelling a cancelled reservation answers it again. */
  cancelReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#ask({ type: 'cancelReservation', token, reservationId });
  }

  /**
   * Pays a held reservation from the user's balance, all at once or not at
   * all. The token then expires, unless its user still holds other seats.
   */
  pay(token: string, payment: { readonly reservationId: string }, options: IdempotencyOptions = {}): Promise<Payment> {
    return this.#ask({ type: 'pay', token, reservationId: payment.reservationId, idempotencyKey: options.idempotencyKey });
  }

  getBalance(token: string, userId: string): Promise<Wallet> {
    return this.#ask({ type: 'getBalance', token, userId });
  }

  /** Adds `amount` (integer minor units) to the user's own balance. */
  charge(token: string, charge: { readonly userId: string; readonly amount: number }, options: IdempotencyOptions = {}): Promise<Wallet> {
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
      this.#deliver(updates);
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
  async watchToken(token: string, watcher: TokenWatcher): Promise<() => void> {
    // Registered before asking, so no tick's update can slip between the answer and the registration;
    // updates that come first are held until the initial view is out.
    const watch: Watch = { watcher, held: [] };
    let watches = this.#watchers.get(token);
    if (!watches) this.#watchers.set(token, (watches = new Set()));
    watches.add(watch);
    const stop = () => {
      const current = this.#watchers.get(token);
      if (!current?.delete(watch) || current.size > 0) return;
      this.#watchers.delete(token);
      this.#ask({ type: 'unwatch', token }).catch(() => undefined);
    };
    let view: QueueToken;
    try {
      view = await this.#ask({ type: 'watch', token });
    } catch (error) {
      stop();
      throw error;
    }
    const held = watch.held!;
    watch.held = undefined;
    for (const next of [view, ...held]) {
      if (!this.#send(watch, next)) {
        stop();
        break;
      }
    }
    return stop;
  }

  /** Runs the safety sweep now: expires overdue holds and forgets old keys. It also runs every `holdSweepMs`. */
  sweep(): Promise<void> {
    return this.#ask({ type: 'sweep' }).then(() => undefined);
  }

  stats(): Promise<EngineStats> {
    return this.#ask({ type: 'stats' }).then((stats) => ({ ...stats, lastTickMs: this.#lastTickMs, maxTickMs: this.#maxTickMs }));
  }

  /**
   * Stops the timers, refuses new commands with `SHUTTING_DOWN`, waits until
   * everything answered is durable, and closes the store. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const handle of this.#timers.values()) this.#clock.clearTimeout(handle);
      this.#timers.clear();
      for (const watches of this.#watchers.values()) for (const { watcher } of watches) watcher.end();
      this.#watchers.clear();
      this.#actor.stop();
      await this.#store.flush().catch(() => undefined);
      await this.#store.close();
    })();
    return this.#closing;
  }

  #ask<K extends CommandType>(command: CommandOf<K>): Promise<CommandResults[K]> {
    if (this.#closing || this.#failure !== undefined) return Promise.reject(this.#refusal());
    return new Promise((resolve, reject) => {
      this.#actor.send({ type: 'command', command, resolve: resolve as (value: unknown) => void, reject } satisfies Envelope);
    });
  }

  /** Runs inside the actor: one command, start to end, then its answer waits for durability. */
  #process({ command, resolve, reject }: Envelope): void {
    const tx = new ChangeSet();
    let ok = true;
    let result: unknown;
    const started = command.type === 'tick' ? performance.now() : 0;
    try {
      result = this.#supervisor.handle(command, this.#clock.now(), tx);
    } catch (error) {
      ok = false;
      result = error;
    }
    if (command.type === 'tick') {
      this.#lastTickMs = performance.now() - started;
      this.#maxTickMs = Math.max(this.#maxTickMs, this.#lastTickMs);
    }
    let durable: Promise<void>;
    try {
      durable = tx.size > 0 ? this.#store.append(tx.changes) : this.#store.flush();
    } catch (error) {
      durable = Promise.reject(error);
    }
    durable.then(
      () => (ok ? resolve(result) : reject(result)),
      (error: unknown) => {
        this.#failure ??= error;
        reject(this.#refusal());
      },
    );
    this.#armDeadline();
  }

  #refusal(): EngineError {
    if (this.#failure !== undefined) {
      return new EngineError('SHUTTING_DOWN', 'the store failed; the engine must be restarted', { cause: this.#failure });
    }
    return new EngineError('SHUTTING_DOWN', 'the engine is shutting down');
  }

  #every(timer: 'tick' | 'sweep', ms: number): void {
    this.#timers.set(
      timer,
      this.#clock.setTimeout(() => {
        if (this.#closing) return;
        this.#every(timer, ms);
        (timer === 'tick' ? this.tick() : this.sweep()).catch(() => undefined);
      }, ms),
    );
  }

  /**
   * Hands a tick's updates (durable by now) to their watchers, a thousand at a
   * time with a turn of the event loop between: ten thousand open streams do
   * not hold up requests.
   */
  #deliver(updates: readonly QueueToken[], from = 0): void {
    const to = Math.min(updates.length, from + 1_000);
    for (let i = from; i < to; i++) {
      const view = updates[i]!;
      const watches = this.#watchers.get(view.token);
      if (!watches) continue;
      for (const watch of watches) {
        if (watch.held) watch.held.push(view);
        else if (!this.#send(watch, view)) watches.delete(watch);
      }
      if (watches.size === 0) this.#watchers.delete(view.token);
    }
    if (to < updates.length) setImmediate(() => this.#deliver(updates, to));
  }

  /** Gives a watcher a view; after a last one (no longer waiting) it ends. Answers whether the watch goes on. */
  #send({ watcher }: Watch, view: QueueToken): boolean {
    watcher.update(view);
    if (view.status === 'waiting') return true;
    watcher.end();
    return false;
  }

  /** One timer for the earliest deadline of all holds and tokens. */
  #armDeadline(): void {
    const at = this.#supervisor.nextDeadline();
    if (at >= this.#deadlineAt || this.#closing) return;
    const previous = this.#timers.get('deadline');
    if (previous !== undefined) this.#clock.clearTimeout(previous);
    this.#deadlineAt = at;
    const delay = Math.min(Math.max(0, at - this.#clock.now()), MAX_TIMER_MS);
    this.#timers.set(
      'deadline',
      this.#clock.setTimeout(() => {
        this.#timers.delete('deadline');
        this.#deadlineAt = Infinity;
        if (this.#closing) return;
        this.#ask({ type: 'expireDue' }).catch(() => undefined);
      }, delay),
    );
  }
}
