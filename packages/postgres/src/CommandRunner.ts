import { EngineError, type Clock, type EngineConfig, type EngineObserver } from '@usher/engine';
import {
  requireTokenArg,
  type Decision,
  type Lifecycles,
  type Observers,
} from '@usher/engine/rules';
import type pg from 'pg';
import { applyAll, type ApplyCall, type ApplyKind } from './applies.js';
import { Batcher, Slots, type Outcome } from './batch.js';
import {
  inTransaction,
  isConflict,
  isUnavailable,
  onClient,
  query,
  unavailable,
  type Queryable,
} from './database.js';
import type { Facts, LineMirror } from './LineMirror.js';
import { viewSql, type TokenRow, type ViewKind } from './reads.js';
import { lookupKey } from './storable.js';

/** A command's view to read: its token argument (`''` for none), its time and the view's parameters. */
interface ViewItem {
  readonly token: string;
  readonly now: number;
  readonly params: readonly unknown[];
}

/** One try of a command: the rule's decision and how to apply it, or `again` to read the state once more. */
export type Attempt<A> =
  { readonly decision: Decision<A>; readonly apply?: ApplyCall<unknown> } | 'again';

/** Batches of one kind running at once. */
const BATCHES = 2;
/** The most views read in one statement. */
const READ_BATCH = 256;
/** The most decisions applied in one statement (a backend caches 64 subtransactions). */
const APPLY_BATCH = 64;
/** First tries are optimistic (read, decide, write conditionally); after these, a command locks its user first. */
const OPTIMISTIC_TRIES = 3;
export const MAX_TRIES = 8;

/**
 * A batch statement that PostgreSQL refused as a whole did nothing (its
 * transaction rolled back): it is split, so one bad item fails alone. A lost
 * connection may have lost a commit's answer: those fail as they are.
 */
const isolate = (error: unknown): boolean => !isUnavailable(error);

/** Rows of a batch read (column `i`, from 1) as one outcome per item, in order. */
function byOrdinal(
  rows: Record<string, unknown>[],
  count: number,
): Outcome<Record<string, unknown>>[] {
  const outcomes: Outcome<Record<string, unknown>>[] = new Array(count);
  for (const row of rows) outcomes[Number(row['i']) - 1] = { ok: true, value: row };
  return outcomes;
}

/** The one item's value of a batch of one. */
function only<O>(outcomes: readonly Outcome<O>[]): O {
  const outcome = outcomes[0]!;
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

export function isTokenArg(token: unknown): token is string {
  try {
    requireTokenArg(token);
    return true;
  } catch {
    return false;
  }
}

/**
 * How commands run: refused while closing, `UNAVAILABLE` while the database
 * cannot be reached, after the tick a timer started (as a mailbox would);
 * their views read, and their decisions applied, in batches of their kind
 * (see {@link Batcher}): a round trip here costs more than the reads.
 *
 * **A command** reads the view its rule needs in one statement (READ
 * COMMITTED, autocommit), calls the rule, and applies the decision in one
 * statement, as conditional writes restating what it assumed. If another
 * engine won a race meanwhile, nothing is applied: the command reads again
 * and decides again, and the rule answers as it would now
 * (`SEAT_UNAVAILABLE`, a replayed idempotent answer, …). After three such
 * races a command takes its user's lock first, so it cannot lose to its own
 * user again.
 */
export class CommandRunner {
  readonly config: EngineConfig;
  readonly lifecycles: Lifecycles;
  readonly clock: Clock;
  readonly pool: pg.Pool;
  readonly line: LineMirror;
  readonly observers: Observers;
  /** The pool as commands use it: each query holds a connection slot while it runs. */
  readonly db: Queryable;
  /** Connections commands may use at once (see {@link Slots}); the pool keeps a few more for LISTEN, the keeper, catch-ups and refreshes. */
  readonly slots: Slots;
  /** The keeper tick a timer started, until it ends: commands wait for it (see {@link run}). */
  tickGate: Promise<void> | undefined;
  readonly #views = new Map<string, Batcher<ViewItem, Record<string, unknown>>>();
  readonly #applies = new Map<ApplyKind<unknown>, Batcher<ApplyCall, unknown>>();
  readonly #inflight = new Set<Promise<unknown>>();
  #closing = false;

  constructor(options: {
    pool: pg.Pool;
    clock: Clock;
    config: EngineConfig;
    lifecycles: Lifecycles;
    line: LineMirror;
    observers: Observers;
    commandSlots: number;
  }) {
    this.pool = options.pool;
    this.clock = options.clock;
    this.config = options.config;
    this.lifecycles = options.lifecycles;
    this.line = options.line;
    this.observers = options.observers;
    const slots = (this.slots = new Slots(options.commandSlots));
    const pool = this.pool;
    this.db = {
      query: ((config: never, values: never) =>
        slots.with(() => pool.query(config, values))) as Queryable['query'],
    };
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Runs a command at the engine's time now (see the class notes). */
  run<T>(command: (now: number) => Promise<T>): Promise<T> {
    if (this.#closing)
      return Promise.reject(new EngineError('SHUTTING_DOWN', 'the engine is shutting down'));
    return this.track(
      (async () => {
        // Like a mailbox: a command waits for the tick a timer started before it (bounded, in wall time,
        // so an unreachable database cannot hold commands up), so it sees what that tick did.
        if (this.tickGate)
          await Promise.race([
            this.tickGate,
            new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
          ]);
        try {
          return await command(this.clock.now());
        } catch (error) {
          if (error instanceof EngineError) throw error;
          if (isUnavailable(error)) throw unavailable(error);
          throw error;
        }
      })(),
    );
  }

  /** Work the engine waits for before it closes. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    const done = () => this.#inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /** Refuses new commands and waits for those in flight. */
  async close(): Promise<void> {
    this.#closing = true;
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /**
   * One view read: the command's token and what `kind` reads beside it. On
   * the pool it joins the next batch of its kind; on a client (a command
   * holding its user's lock), it runs alone. A malformed token argument
   * finds no token: the rule then refuses it at its place among the
   * command's checks. `again` when the view must be read anew.
   */
  async read<R>(
    token: unknown,
    now: number,
    kind: ViewKind,
    params: readonly unknown[],
    db: Queryable = this.db,
  ): Promise<{ facts: Facts; row: R & Partial<TokenRow> } | 'again'> {
    const valid = isTokenArg(token);
    const item = {
      token: valid ? (lookupKey(token) ?? '') : '',
      now,
      params: params.map(lookupKey),
    };
    const read =
      db === this.db
        ? this.#viewBatch(kind).submit(item)
        : this.#readViews(db, kind, [item]).then(only);
    const row = (await read) as unknown as R & TokenRow;
    const facts = await this.line.factsOf(token, valid && row.token ? row : undefined, now);
    return facts === 'again' ? facts : { facts, row };
  }

  /** {@link read} until it holds. */
  async view<R>(
    token: unknown,
    now: number,
    kind: ViewKind,
    params: readonly unknown[],
    db: Queryable = this.db,
  ): Promise<{ facts: Facts; row: R & Partial<TokenRow> }> {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const read = await this.read<R>(token, now, kind, params, db);
      if (read !== 'again') return read;
    }
    throw new EngineError('UNAVAILABLE', 'the waiting line kept changing; try again');
  }

  /** A row of `kind` read alone or in a batch, without the token's facts (issuing reads by user). */
  readRow(
    kind: ViewKind,
    item: ViewItem,
    db: Queryable = this.db,
  ): Promise<Record<string, unknown>> {
    const keyed = {
      ...item,
      token: lookupKey(item.token) ?? '',
      params: item.params.map(lookupKey),
    };
    return db === this.db
      ? this.#viewBatch(kind).submit(keyed)
      : this.#readViews(db, kind, [keyed]).then(only);
  }

  /**
   * Reads, decides, applies; again when another engine won a race. `attempt`
   * reads the view on `db` and calls the rule. The first tries run on the
   * pool (reads and writes batched with other commands'); later ones in a
   * transaction that first takes the user's lock (the user of the last try),
   * so a user's own concurrent commands cannot keep a command losing.
   */
  async decide<A>(
    command: string,
    now: number,
    knownUser: string | undefined,
    attempt: (db: Queryable) => Promise<Attempt<A>>,
  ): Promise<{ answer: A; result?: unknown }> {
    const started = performance.now();
    const outcome = await this.#decideOnce(now, knownUser, attempt);
    if (outcome.committed)
      this.observers.tell((observer: EngineObserver) =>
        observer.commit?.({ command, durationMs: performance.now() - started }),
      );
    return outcome;
  }

  async #decideOnce<A>(
    now: number,
    knownUser: string | undefined,
    attempt: (db: Queryable) => Promise<Attempt<A>>,
  ): Promise<{ answer: A; result?: unknown; committed?: true }> {
    let user = knownUser;
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      if (tries < OPTIMISTIC_TRIES || user === undefined) {
        const step = await attempt(this.db);
        if (step === 'again') continue;
        const call = callOf(step);
        if (!call) return { answer: step.decision.answer };
        user = call.user;
        try {
          return {
            answer: step.decision.answer,
            result: await this.apply(this.db, call),
            committed: true,
          };
        } catch (error) {
          if (!isConflict(error)) throw error;
          continue;
        }
      }
      const lockedUser = user;
      const outcome = await this.slots.with(() =>
        onClient(this.pool, (client) =>
          inTransaction(client, async () => {
            await query(client, 'SELECT usher_lock_user($1)', [lockedUser]);
            const step = await attempt(client);
            if (step === 'again') return step;
            const call = callOf(step);
            if (!call) return { answer: step.decision.answer };
            return {
              answer: step.decision.answer,
              result: await this.apply(client, call),
              committed: true as const,
            };
          }).catch((error: unknown) => {
            if (isConflict(error)) return 'again' as const;
            throw error;
          }),
        ),
      );
      if (outcome !== 'again') return outcome;
    }
    throw new EngineError('UNAVAILABLE', 'too many concurrent changes to the same data; try again');
  }

  /**
   * Applies a decision: on the pool, together with the decisions of its kind
   * ready at the same time (group commit: one round trip and one WAL flush
   * for the lot, each in a subtransaction of its own); inside a transaction,
   * alone. A refused item changed nothing and is decided again.
   */
  apply(db: Queryable, call: ApplyCall): Promise<unknown> {
    if (db !== this.db) return applyAll(db, call.kind, [call]).then(only);
    return this.#applyBatch(call).submit(call);
  }

  #applyBatch(call: ApplyCall): Batcher<ApplyCall, unknown> {
    const { kind } = call;
    let batcher = this.#applies.get(kind);
    if (!batcher) {
      // A batch holding the step lock exclusively makes a second one of this gateway only wait for it: one
      // at a time, and whatever arrives meanwhile joins the next (fewer, larger batches).
      batcher = new Batcher((calls) => applyAll(this.pool, kind, calls), {
        concurrency: kind.exclusive ? 1 : BATCHES,
        max: APPLY_BATCH,
        slots: this.slots,
        isolate,
      });
      this.#applies.set(kind, batcher);
    }
    return batcher;
  }

  #viewBatch(kind: ViewKind): Batcher<ViewItem, Record<string, unknown>> {
    let batcher = this.#views.get(kind.name);
    if (!batcher) {
      batcher = new Batcher((items) => this.#readViews(this.pool, kind, items), {
        concurrency: BATCHES,
        max: READ_BATCH,
        slots: this.slots,
        isolate,
      });
      this.#views.set(kind.name, batcher);
    }
    return batcher;
  }

  /** Reads `items`' views of one kind in one statement (see {@link viewSql}). */
  async #readViews(
    db: Queryable,
    kind: ViewKind,
    items: readonly ViewItem[],
  ): Promise<Outcome<Record<string, unknown>>[]> {
    const params = kind.params.map((_, k) => items.map((item) => item.params[k]));
    const { rows } = await query(db, kind.sql ?? viewSql(kind), [
      items.map((item) => item.token),
      items.map((item) => item.now),
      this.config.queueWaitingTtlMs,
      ...params,
    ]);
    return byOrdinal(rows, items.length);
  }
}

/** The apply of a decision that changes something (a decision with changes and no apply is a fault). */
function callOf(step: Exclude<Attempt<unknown>, 'again'>): ApplyCall | undefined {
  if (step.decision.changes.length === 0) return undefined;
  if (!step.apply)
    throw new Error(
      `a decision of ${step.decision.changes.map((change) => change.type).join(', ')} came without its apply`,
    );
  return step.apply;
}
