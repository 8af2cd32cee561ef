import { randomBytes } from 'node:crypto';
import {
  EngineError,
  type CatalogInput,
  type CatalogLoadResult,
  type Clock,
  type Concert,
  type EngineConfig,
  type EngineHealth,
  type EngineObserver,
  type Room,
  type RoomChange,
  type RoomSettings,
  type EngineStats,
  type IdempotencyOptions,
  type IssuedToken,
  type Payment,
  type QueueToken,
  type Reservation,
  type ReservationRecord,
  type Schedule,
  type SeatList,
  type TickReport,
  type TokenWatcher,
  type UsherEngine,
  type Wallet,
} from '@usher/engine';
import {
  checkCharge,
  checkListConcerts,
  checkListSchedules,
  checkListSeats,
  checkPay,
  checkReserve,
  decideCancel,
  decideCharge,
  decideGetBalance,
  checkListStatus,
  decideGetReservation,
  decideListReservations,
  decideIssue,
  decideLoadCatalog,
  endedView,
  placeBeforeOpening,
  roomView,
  decidePay,
  decideReserve,
  lifecyclesFor,
  priceOf,
  requireId,
  requireReadable,
  requireTokenArg,
  requireUserId,
  reservationView,
  TokenWatchers,
  tokenView,
  userIdProblem,
  type Decision,
  type Issued,
  type Lifecycles,
  type Occupant,
  type Place,
  type TokenFacts,
  type TokenState,
} from '@usher/engine/rules';
import { nanoid } from 'nanoid';
import type pg from 'pg';
import {
  APPLY_KINDS,
  applySql,
  typedApply,
  type ApplyKind,
  type Assumptions,
  type TypedApply,
} from './applies.js';
import { Batcher, Slots, type Outcome } from './batch.js';
import {
  isConflict,
  isUnavailable,
  query,
  unavailable,
  USER_LOCKS,
  type Queryable,
} from './database.js';
import { KeeperSession } from './KeeperSession.js';
import { QueueMirror, TICK_COLUMNS, tickRow } from './QueueMirror.js';
import { ensureRoom, ROOM_COLUMNS, roomRow } from './room.js';
import { reservationRecord, runRoomUpdate, runStep, runSweep } from './steps.js';
import { spendChallenge } from './spentChallenges.js';
import {
  compareText,
  concertRecord,
  goneBelow,
  idempotencyRecord,
  isStale,
  ISSUE_VIEW,
  orderedLike,
  scheduleRecord,
  tokenState,
  views,
  viewSql,
  type TokenRow,
  type ViewKind,
} from './views.js';

/** One attempt of a command: the decision and what it assumed, or `again` to read the state once more. */
type Attempt<A> = { readonly decision: Decision<A>; readonly assume: Assumptions } | 'again';

/** What `usher_apply` answers for a new waiting token. */
interface IssuedRow {
  readonly seq?: string | number;
  readonly gone?: string | number;
  readonly tick?: string | number;
}

/** A command's view to read: its token argument (`''` for none), its time and the view's parameters. */
interface ViewItem {
  readonly token: string;
  readonly now: number;
  readonly params: readonly unknown[];
}

/** A decision to apply. */
interface ApplyItem {
  readonly user: string;
  readonly changes: string;
  readonly now: number;
  readonly assume: string;
}

/** Batches of one kind running at once. */
const BATCHES = 2;
/** The most views read in one statement. */
const READ_BATCH = 256;
/** The most decisions applied in one statement (a backend caches 64 subtransactions). */
const APPLY_BATCH = 64;

/** First tries are optimistic (read, decide, write conditionally); after these, a command locks its user first. */
const OPTIMISTIC_TRIES = 3;
const MAX_TRIES = 8;
const PAYMENT_KEYS = ['id', 'reservationId', 'userId', 'amount', 'balance', 'createdAt'];
const WALLET_KEYS = ['userId', 'balance'];

/** A place that is never used: the token is not waiting. */
const NOWHERE: Place = { position: 0, estimatedWaitSeconds: 0 };

/** A token and what the rules need to know about it. */
interface Facts extends TokenFacts {
  readonly row: TokenRow | undefined;
  readonly lastSeenAt: number;
}

/** An id from nanoid (21 characters), flat (see `newId` in `@usher/engine`). */
function newId(): string {
  return Buffer.from(nanoid(), 'latin1').toString('latin1');
}

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

function isTokenArg(token: unknown): token is string {
  try {
    requireTokenArg(token);
    return true;
  } catch {
    return false;
  }
}

/**
 * The usher engine over PostgreSQL: the same {@link UsherEngine} as the
 * embedded engine, deciding with the same rules (`@usher/engine/rules`), with
 * PostgreSQL as the system of record. Any number of instances, in any number
 * of processes, run over one database; each keeps only what it can rebuild.
 *
 * **A command** validates its arguments with the rule's checks, reads the
 * view the rule needs in one statement (READ COMMITTED, autocommit), calls the
 * rule, and applies the decision's changes in one statement (a typed
 * function for holds, payments, charges and issues, see {@link typedApply};
 * `usher_apply` for the rest), each as a conditional write restating what
 * the decision assumed. Commands
 * of one kind running at once share those round trips: their views are read
 * in one statement, their decisions applied in one transaction (see
 * {@link Batcher}); a round trip here costs more than the reads. If another
 * engine won a race meanwhile, nothing is applied: the engine reads again and
 * decides again, and the rule answers as it would now (`SEAT_UNAVAILABLE`, a
 * replayed idempotent answer, …). After three such races a command takes its
 * user's advisory lock first, so it cannot lose to its own user again.
 *
 * **Positions** are exact and never counted over the queue. Only keeper steps
 * give waiting tokens a line number (dense, in `seq` order) or move them out
 * of `waiting`, and each step publishes a `queue_ticks` row (the last line
 * and `seq` given, the lines that left). Every engine applies those rows to
 * a Fenwick tree over line numbers ({@link QueueMirror}): a lined token's
 * position is a prefix sum in memory after one indexed read of its row. A
 * token that arrived since the last step has no line yet: numbers are drawn
 * under a lock shared by arrivals and exclusive with steps, so every number
 * up to the step's `seq_end` is settled, and its position is the line's
 * length plus the numbers drawn between `seq_end` and its own, less those
 * known abandoned (see {@link QueueMirror}). Polls are recorded lazily (the
 * row is updated only when its `last_seen_at` is older than a tenth of
 * `waitingTtl`), so most polls are reads.
 *
 * **The keeper** (see {@link KeeperSession}) runs the scheduler every
 * `queueTickMs` and the sweep every `holdSweepMs`. `tick()` and `sweep()` run
 * one step now on any instance (steps take one lock, so they never overlap),
 * so tests drive time on any instance with a simulated clock. When no
 * scheduler tick has run for a tick period and a waiting token may have been
 * abandoned, a poll first runs a catch-up step (expire, abandon, line up, no
 * admission): positions stay exact when time is driven by hand or the keeper
 * is away.
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
  readonly #clock: Clock;
  readonly #lifecycles: Lifecycles;
  readonly #mirror: QueueMirror;
  readonly #keeper: KeeperSession;
  readonly #runsKeeper: boolean;
  readonly #watchers: TokenWatchers;
  /** Watched waiting tokens, with what their watchers were last told. */
  readonly #watched = new Map<string, QueueToken>();
  readonly #timers = new Map<'tick' | 'sweep', unknown>();
  readonly #inflight = new Set<Promise<unknown>>();
  /** A poll is recorded when the stored one is older than this. */
  readonly #pollSlackMs: number;
  #closing: Promise<void> | undefined;
  #listener: pg.PoolClient | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #watchRefreshing: Promise<void> | undefined;
  #watchAgain = false;
  #catchingUp: Promise<void> | undefined;
  #ticking = false;
  /** The keeper tick a timer started, until it ends: commands wait for it (see {@link #run}). */
  #tickGate: Promise<void> | undefined;
  /** Connections commands may use at once (see {@link Slots}); the pool keeps a few more for LISTEN, the keeper, catch-ups and refreshes. */
  readonly #slots: Slots;
  /** The pool as commands use it: each query holds a slot while it runs. */
  readonly #db: Queryable;
  /** View reads, batched by kind (see {@link #read}). */
  readonly #viewBatches = new Map<string, Batcher<ViewItem, Record<string, unknown>>>();
  readonly #issueViews: Batcher<ViewItem, Record<string, unknown>>;
  /** Decisions applied together (see {@link #applyMany}), and those of the typed kinds (see {@link #applyTyped}). */
  readonly #applies: Batcher<ApplyItem, unknown>;
  readonly #typedApplies = new Map<ApplyKind['name'], Batcher<TypedApply, IssuedRow>>();
  /**
   * Issues at once, batched apart from the arrivals: a batch of them holds the step lock
   * exclusively to its commit, so a second batch of this gateway would only wait for the
   * first; one at a time, whatever arrives meanwhile joins the next (fewer, larger batches).
   */
  readonly #issuesAtOnce: Batcher<TypedApply, IssuedRow>;
  #lastTickMs = 0;
  #maxTickMs = 0;
  readonly #observers = new Set<EngineObserver>();

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
    this.#slots = new Slots(options.commandSlots);
    const pool = this.#pool;
    const slots = this.#slots;
    this.#db = {
      query: ((config: never, values: never) =>
        slots.with(() => pool.query(config, values))) as Queryable['query'],
    };
    this.#issueViews = new Batcher((items) => this.#readIssueViews(this.#pool, items), {
      concurrency: BATCHES,
      max: READ_BATCH,
      slots,
    });
    this.#applies = new Batcher((items) => this.#applyMany(items), {
      concurrency: BATCHES,
      max: APPLY_BATCH,
      slots,
    });
    for (const kind of Object.values(APPLY_KINDS)) {
      this.#typedApplies.set(
        kind.name,
        new Batcher((items) => this.#applyTyped(this.#pool, kind, items), {
          concurrency: BATCHES,
          max: APPLY_BATCH,
          slots,
        }),
      );
    }
    this.#issuesAtOnce = new Batcher(
      (items) => this.#applyTyped(this.#pool, APPLY_KINDS.issue, items),
      { concurrency: 1, max: APPLY_BATCH, slots },
    );
    this.#ownsPool = options.ownsPool;
    this.#clock = options.clock;
    this.#lifecycles = lifecyclesFor(this.config);
    this.#mirror = new QueueMirror(this.config);
    this.#keeper = new KeeperSession(
      this.#pool,
      `usher-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    this.#runsKeeper = options.keeper;
    this.#watchers = new TokenWatchers((token) => this.#watched.delete(token));
    this.#pollSlackMs = Math.max(1, Math.floor(this.config.queueWaitingTtlMs / 10));
  }

  /** @internal Loads the line, listens for keeper steps, and arms the keeper's timers. */
  async start(): Promise<void> {
    await ensureRoom(this.#pool, this.config);
    await this.#reload();
    await this.#listen();
    if (this.#runsKeeper) {
      this.#every('tick', this.config.queueTickMs);
      this.#every('sweep', this.config.holdSweepMs);
    }
  }

  /** `ok`, or `closing` once {@link close} was called. A database that cannot be reached is not a failure: commands answer `UNAVAILABLE` until it is back. */
  get health(): EngineHealth {
    return this.#closing ? { status: 'closing' } : { status: 'ok' };
  }

  /**
   * Resolves when the database answers within a second, on the LISTEN
   * connection (so a pool busy with commands does not make it look down);
   * `UNAVAILABLE` otherwise, also while that connection is being re-opened.
   */
  async ready(): Promise<void> {
    const listener = this.#listener;
    if (this.#closing) throw new EngineError('UNAVAILABLE', 'the engine is closing');
    if (!listener) throw unavailable(new Error('not connected to the database'));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        listener.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('connection timeout: the database did not answer within 1 s')),
            1_000,
          );
        }),
      ]);
    } catch (error) {
      throw unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether this instance is the keeper now (holds the keeper lock). */
  get isKeeper(): boolean {
    return this.#keeper.held;
  }

  loadCatalog(catalog: CatalogInput): Promise<CatalogLoadResult> {
    return this.#run(async (now) => {
      const texts = (values: readonly unknown[]) =>
        values.filter((value): value is string => typeof value === 'string');
      if (
        typeof catalog !== 'object' ||
        catalog === null ||
        !Array.isArray(catalog.concerts) ||
        !Array.isArray(catalog.schedules)
      ) {
        decideLoadCatalog({ concert: () => undefined, schedule: () => undefined }, catalog);
      }
      const concertIds = texts([
        ...catalog.concerts.map((concert) => concert?.id),
        ...catalog.schedules.map((schedule) => schedule?.concertId),
      ]);
      const scheduleIds = texts(catalog.schedules.map((schedule) => schedule?.id));
      const { answer } = await this.#decide('loadCatalog', now, undefined, async (db) => {
        const { rows } = await query<{
          concerts: Record<string, unknown>[];
          schedules: Record<string, unknown>[];
        }>(
          db,
          `SELECT (SELECT coalesce(json_agg(record), '[]') FROM concerts WHERE id = ANY($1)) AS concerts,
                  (SELECT coalesce(json_agg(record), '[]') FROM schedules WHERE id = ANY($2)) AS schedules`,
          [concertIds, scheduleIds],
        );
        const concerts = new Map(
          rows[0]!.concerts.map((json) => [json['id'] as string, concertRecord(json)]),
        );
        const schedules = new Map(
          rows[0]!.schedules.map((json) => [json['id'] as string, scheduleRecord(json)]),
        );
        const decision = decideLoadCatalog(
          { concert: (id) => concerts.get(id), schedule: (id) => schedules.get(id) },
          catalog,
        );
        return { decision, assume: {} };
      });
      return answer;
    });
  }

  issueToken(userId: string): Promise<IssuedToken> {
    return this.#run(async (now) => {
      const { config } = this;
      const fresh = () => ({ token: newId(), seq: 0 });
      // A malformed user id reads nothing: the rule refuses it.
      if (userIdProblem(userId) !== undefined) {
        decideIssue(
          { live: undefined, waiting: 0, active: 0, room: this.#mirror.room },
          userId,
          now,
          config,
          this.#lifecycles,
          fresh(),
        );
      }
      let facts: Facts | undefined;
      let created: TokenState | undefined;
      const { answer, result } = await this.#decide<Issued>(
        'issueToken',
        now,
        userId,
        async (db) => {
          // The room is read with the view: admission at issue follows the operator's settings at once.
          const item = { token: userId, now, params: [] };
          const read =
            db === this.#db
              ? this.#issueViews.submit(item)
              : this.#readIssueViews(db, [item]).then(only);
          const row = (await read) as unknown as TokenRow & {
            someone_waits: boolean;
            active: string | null;
            room: Record<string, unknown> | null;
          };
          if (row.status === 'waiting' && isStale(row, now, config, this.#lifecycles)) {
            // The user's waiting token was abandoned but no keeper step has removed it from the line: one does
            // now (only steps change the line), then a new token can be issued. An active token past its
            // deadline is in no line: usher_apply removes it with the new token's insert.
            await this.#catchUp(now);
            return 'again';
          }
          const found = await this.#facts(row.token, row, now);
          if (found === 'again') return found;
          facts = found;
          const room = row.room ? roomRow(row.room).room : this.#mirror.room;
          const view = {
            live: found.token,
            waiting: row.someone_waits ? 1 : 0,
            active: Number(row.active ?? room.maxActive),
            room,
          };
          const decision = decideIssue(view, userId, now, config, this.#lifecycles, fresh());
          created = decision.answer.created ? decision.answer.token : undefined;
          return {
            decision,
            assume: { userId, waitingTtlMs: config.queueWaitingTtlMs, maxActive: room.maxActive },
          };
        },
      );
      if (!answer.created) {
        // The user's live token again, which counts as a poll.
        return { token: await this.#tokenView(answer.token.token, now, facts), created: false };
      }
      // Issued already ended (sold out): nothing was stored.
      if (answer.token.status === 'expired')
        return {
          token: tokenView(answer.token, NOWHERE, now, config, answer.reason),
          created: true,
        };
      const issued = (result ?? {}) as IssuedRow;
      let place = NOWHERE;
      if (created?.status === 'waiting') {
        const tick = Number(issued.tick ?? 0);
        if (tick > this.#mirror.applied) await this.#refresh();
        if (tick !== this.#mirror.applied)
          return { token: await this.#tokenView(answer.token.token, now), created: true };
        place = this.#mirror.room.pendingOpening
          ? this.#beforeOpening(now)
          : this.#place(
              this.#mirror.line.size +
                Number(issued.seq) -
                this.#mirror.seqEnd -
                Number(issued.gone ?? 0),
            );
      }
      return { token: tokenView(answer.token, place, now, config), created: true };
    });
  }

  getToken(token: string): Promise<QueueToken> {
    return this.#run((now) => this.#tokenView(token, now));
  }

  tokenOwner(token: string): Promise<string | undefined> {
    return this.#run(async (now) => {
      if (!isTokenArg(token)) return undefined;
      const row = (await this.#viewBatch(views.token).submit({
        token,
        now,
        params: [],
      })) as unknown as TokenRow;
      if (!row.token) return undefined;
      // Kept (expired) tokens still identify their user, as in the embedded engine; ended ones do not.
      return row.status === 'expired' || tokenState(row, now, this.config, this.#lifecycles)
        ? row.user_id!
        : undefined;
    });
  }

  async watchToken(token: string, watcher: TokenWatcher): Promise<() => void> {
    return this.#watchers.watch(token, watcher, () =>
      this.#run(async (now) => {
        const before = this.#mirror.applied;
        const view = await this.#tokenView(token, now);
        if (view.status === 'waiting') {
          this.#watched.set(token, view);
          // A step applied while the view was read may have moved the token: look again, after the first view is out.
          if (this.#mirror.applied !== before) void this.#refreshWatchers().catch(() => undefined);
        }
        return view;
      }),
    );
  }

  listConcerts(token: string): Promise<readonly Concert[]> {
    return this.#run(async (now) => {
      const { facts, row } = await this.#view<{ concerts: Record<string, unknown>[] }>(
        token,
        now,
        views.concerts,
        [],
      );
      checkListConcerts(facts, now, this.#lifecycles);
      return row.concerts.map(concertRecord).sort((a, b) => compareText(a.id, b.id));
    });
  }

  listSchedules(token: string, concertId: string): Promise<readonly Schedule[]> {
    return this.#run(async (now) => {
      requireId(concertId, 'concertId');
      const { facts, row } = await this.#view<{
        concert: unknown;
        schedules: { record: Record<string, unknown>; taken: number }[];
      }>(token, now, views.schedules, [concertId]);
      checkListSchedules(
        { ...facts, concert: row.concert ?? undefined },
        concertId,
        now,
        this.#lifecycles,
      );
      const list: Schedule[] = [];
      for (const { record, taken } of row.schedules) {
        const { id, startsAt, totalSeats } = scheduleRecord(record);
        const availableSeats = totalSeats - Number(taken);
        if (availableSeats > 0) list.push({ id, concertId, startsAt, totalSeats, availableSeats });
      }
      return list.sort((a, b) => compareText(a.startsAt, b.startsAt) || compareText(a.id, b.id));
    });
  }

  listSeats(token: string, scheduleId: string): Promise<SeatList> {
    return this.#run(async (now) => {
      requireId(scheduleId, 'scheduleId');
      const { facts, row } = await this.#view<{
        schedule: Record<string, unknown> | null;
        taken: number[];
      }>(token, now, views.seats, [scheduleId]);
      checkListSeats(
        { ...facts, schedule: row.schedule ?? undefined },
        scheduleId,
        now,
        this.#lifecycles,
      );
      const { totalSeats, prices } = scheduleRecord(row.schedule!);
      const seats = [];
      let next = 0;
      for (let seatNo = 1; seatNo <= totalSeats; seatNo++) {
        if (row.taken[next] === seatNo) {
          next++;
          continue;
        }
        seats.push({ seatNo, price: priceOf(prices, seatNo) });
      }
      return { scheduleId, seats };
    });
  }

  reserve(
    token: string,
    seat: { readonly scheduleId: string; readonly seatNo: number },
  ): Promise<Reservation> {
    return this.#run(async (now) => {
      const command = checkReserve(seat);
      const { answer } = await this.#decide('reserve', now, undefined, async (db) => {
        const read = await this.#read<{
          schedule: Record<string, unknown> | null;
          occupant: Occupant | null;
          held: string | null;
        }>(token, now, views.reserve, [command.scheduleId, command.seatNo], db);
        if (read === 'again') return read;
        const { facts, row } = read;
        const record = row.schedule ? scheduleRecord(row.schedule) : undefined;
        const heldByUser = Number(row.held ?? 0);
        const view = {
          ...facts,
          schedule: record && {
            id: record.id,
            totalSeats: record.totalSeats,
            priceOf: (seatNo: number) => priceOf(record.prices, seatNo),
          },
          occupant: row.occupant
            ? { ...row.occupant, expiresAt: Number(row.occupant.expiresAt) }
            : undefined,
          heldByUser,
        };
        const decision = decideReserve(view, command, now, this.config, this.#lifecycles, newId());
        return {
          decision,
          assume: { userId: facts.token!.userId, token: facts.token!.token, heldByUser },
        };
      });
      return reservationView(answer);
    });
  }

  getReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#run(async (now) => {
      requireId(reservationId, 'reservationId');
      const { facts, reservation } = await this.#readReservation(
        token,
        reservationId,
        now,
        this.#db,
      );
      return reservationView(
        decideGetReservation({ ...facts, reservation }, reservationId, now, this.#lifecycles),
      );
    });
  }

  listReservations(
    token: string,
    options: { readonly status?: 'held' | 'paid' } = {},
  ): Promise<readonly Reservation[]> {
    return this.#run(async (now) => {
      const status = checkListStatus(options?.status);
      // One indexed read (reservations_live_by_user): the token's user's held and paid rows; the rule drops holds past their deadline.
      const { facts, row } = await this.#view<{ reservations: Record<string, unknown>[] | null }>(
        token,
        now,
        views.reservations,
        [],
      );
      const reservations = (row.reservations ?? []).map(reservationRecord);
      return decideListReservations({ ...facts, reservations }, status, now, this.#lifecycles).map(
        reservationView,
      );
    });
  }

  cancelReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#run(async (now) => {
      requireId(reservationId, 'reservationId');
      const { answer } = await this.#decide('cancelReservation', now, undefined, async (db) => {
        const { facts, reservation } = await this.#readReservation(token, reservationId, now, db);
        const decision = decideCancel(
          { ...facts, reservation },
          reservationId,
          now,
          this.#lifecycles,
        );
        return {
          decision,
          assume: { userId: facts.token?.userId, token: facts.token?.token } as Assumptions,
        };
      });
      return reservationView(answer);
    });
  }

  pay(
    token: string,
    payment: { readonly reservationId: string },
    options: IdempotencyOptions = {},
  ): Promise<Payment> {
    return this.#run(async (now) => {
      const command = checkPay({
        reservationId: payment?.reservationId,
        idempotencyKey: options.idempotencyKey,
      });
      const { answer } = await this.#decide('pay', now, undefined, async (db) => {
        const read = await this.#read<{
          stored: Record<string, unknown> | null;
          reservation: Record<string, unknown> | null;
          balance: string;
          held: string | null;
        }>(token, now, views.pay, [command.idempotencyKey ?? '', command.reservationId], db);
        if (read === 'again') return read;
        const { facts, row } = read;
        const userId = facts.token?.userId ?? '';
        const stored =
          command.idempotencyKey === undefined
            ? undefined
            : idempotencyRecord(row.stored, userId, command.idempotencyKey);
        const view = {
          ...facts,
          stored: stored && {
            ...stored,
            result: orderedLike(PAYMENT_KEYS, stored.result as Record<string, unknown>),
          },
          reservation: row.reservation ? reservationRecord(row.reservation) : undefined,
          balance: Number(row.balance),
          heldByUser: Number(row.held ?? 0),
        };
        const decision = decidePay(view, command, now, this.config, this.#lifecycles, newId());
        return {
          decision,
          assume: {
            userId,
            token: facts.token?.token,
            balance: view.balance,
            heldByUser: view.heldByUser,
          } as Assumptions,
        };
      });
      return answer;
    });
  }

  spendChallenge(id: string, expiresAt: number): Promise<boolean> {
    return this.#run(() => spendChallenge(this.#db, id, expiresAt));
  }

  getBalance(token: string, userId: string): Promise<Wallet> {
    return this.#run(async (now) => {
      requireUserId(userId);
      const { facts, row } = await this.#view<{ balance: string }>(token, now, views.balance, [
        userId,
      ]);
      return decideGetBalance(
        { ...facts, balance: Number(row.balance) },
        userId,
        now,
        this.#lifecycles,
      );
    });
  }

  charge(
    token: string,
    charge: { readonly userId: string; readonly amount: number },
    options: IdempotencyOptions = {},
  ): Promise<Wallet> {
    return this.#run(async (now) => {
      const command = checkCharge(
        { userId: charge?.userId, amount: charge?.amount, idempotencyKey: options.idempotencyKey },
        this.config,
      );
      const { answer } = await this.#decide('charge', now, undefined, async (db) => {
        const read = await this.#read<{ stored: Record<string, unknown> | null; balance: string }>(
          token,
          now,
          views.charge,
          [command.idempotencyKey ?? '', command.userId],
          db,
        );
        if (read === 'again') return read;
        const { facts, row } = read;
        const stored =
          command.idempotencyKey === undefined
            ? undefined
            : idempotencyRecord(row.stored, facts.token?.userId ?? '', command.idempotencyKey);
        const view = {
          ...facts,
          stored: stored && {
            ...stored,
            result: orderedLike(WALLET_KEYS, stored.result as Record<string, unknown>),
          },
          balance: Number(row.balance),
        };
        const decision = decideCharge(view, command, now, this.config, this.#lifecycles);
        return {
          decision,
          assume: {
            userId: command.userId,
            token: facts.token?.token,
            balance: view.balance,
          } as Assumptions,
        };
      });
      return answer;
    });
  }

  /** Runs a scheduler tick now, on this instance (steps never overlap, whoever runs them). */
  tick(): Promise<TickReport> {
    return this.#run(async (now) => {
      const started = performance.now();
      const { report } = await this.#slots.with(() =>
        this.#onClient((client) =>
          runStep(client, now, { config: this.config, lifecycles: this.#lifecycles, real: true }),
        ),
      );
      this.#timed(started, report.admitted);
      await this.#refresh();
      return report;
    });
  }

  /** Runs the safety sweep now, on this instance. */
  sweep(): Promise<void> {
    return this.#run((now) =>
      this.#slots.with(() =>
        this.#onClient((client) =>
          runSweep(client, now, { config: this.config, lifecycles: this.#lifecycles }),
        ),
      ),
    );
  }

  /**
   * The room (SPEC §9) as the database holds it: the settings and
   * `admittedTotal` from the `room` row; `active` counted (at most
   * `maxActive` index entries); `waiting` as of the last keeper step plus
   * the arrivals since (never a count of the line).
   */
  room(): Promise<Room> {
    return this.#run((now) => this.#roomAt(this.#pool, now));
  }

  /**
   * Changes the room's settings (see `UsherEngine.updateRoom`), in one
   * transaction under the step lock, and publishes the change as a step: every
   * engine's mirror has it after the next notification; the keeper's next
   * tick admits by it.
   */
  updateRoom(patch: Partial<RoomSettings>): Promise<RoomChange> {
    return this.#run(async (now) => {
      const options = { config: this.config, lifecycles: this.#lifecycles };
      const started = performance.now();
      const { before, after } = await this.#onClient((client) =>
        runRoomUpdate(client, now, patch, options),
      );
      if (before !== after) {
        this.#tell((observer) =>
          observer.commit?.({ command: 'updateRoom', durationMs: performance.now() - started }),
        );
        await this.#refresh();
      }
      const counts = await this.#roomAt(this.#pool, now);
      return { before: roomView(before, counts), room: roomView(after, counts) };
    });
  }

  /** Reports this instance's ticks (as the keeper, or asked for with {@link tick}) and commits to `observer` until the returned function is called. */
  observe(observer: EngineObserver): () => void {
    this.#observers.add(observer);
    return () => void this.#observers.delete(observer);
  }

  stats(): Promise<EngineStats> {
    return this.#run(async (now) => {
      const { rows } = await query<Record<string, string>>(
        this.#db,
        `SELECT (SELECT count(*) FROM concerts) AS concerts,
                (SELECT count(*) FROM schedules) AS schedules,
                (SELECT count(*) FROM tokens WHERE status = 'waiting' AND last_seen_at > $1::bigint - $2::bigint) AS waiting,
                (SELECT count(*) FROM tokens WHERE status = 'active' AND expires_at > $1) AS active,
                (SELECT count(*) FROM reservations WHERE status = 'held' AND expires_at > $1) AS held,
                (SELECT count(*) FROM reservations WHERE status = 'paid') AS paid,
                (SELECT count(*) FROM reservations) AS reservations,
                (SELECT count(*) FROM payments) AS payments,
                (SELECT count(*) FROM wallets) AS wallets,
                (SELECT count(*) FROM idempotency_keys) AS keys`,
        [now, this.config.queueWaitingTtlMs],
      );
      const row = rows[0]!;
      return {
        concerts: Number(row['concerts']),
        schedules: Number(row['schedules']),
        waitingTokens: Number(row['waiting']),
        activeTokens: Number(row['active']),
        heldSeats: Number(row['held']),
        paidSeats: Number(row['paid']),
        reservations: Number(row['reservations']),
        payments: Number(row['payments']),
        wallets: Number(row['wallets']),
        idempotencyKeys: Number(row['keys']),
        admissionRatePerSecond: this.#mirror.rate.perSecond,
        watchedTokens: this.#watchers.size,
        lastTickMs: this.#lastTickMs,
        maxTickMs: this.#maxTickMs,
      };
    });
  }

  /**
   * Stops the timers, ends every watch, waits for the commands in flight,
   * gives up the keeper's lock and the LISTEN connection, and ends the pool if
   * the engine created it. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const handle of this.#timers.values()) this.#clock.clearTimeout(handle);
      this.#timers.clear();
      if (this.#listenRetry) clearTimeout(this.#listenRetry);
      while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
      // After the commands in flight: a watch being set up has had its first view by now.
      this.#watchers.endAll();
      this.#watched.clear();
      this.#keeper.release();
      const listener = this.#listener;
      this.#listener = undefined;
      if (listener) {
        await listener.query('UNLISTEN *').catch(() => undefined);
        listener.release();
      }
      if (this.#ownsPool) await this.#pool.end();
    })();
    return this.#closing;
  }

  // ——— commands ———

  /**
   * Runs a command: refused while closing; a database that cannot be reached
   * is `UNAVAILABLE`. What it asks of PostgreSQL waits for a connection slot
   * (see {@link Slots}), alone or in a batch of its kind.
   */
  #run<T>(command: (now: number) => Promise<T>): Promise<T> {
    if (this.#closing)
      return Promise.reject(new EngineError('SHUTTING_DOWN', 'the engine is shutting down'));
    return this.#track(
      (async () => {
        // Like a mailbox: a command waits for the tick a timer started before it (bounded, in wall time,
        // so an unreachable database cannot hold commands up), so it sees what that tick did.
        if (this.#tickGate)
          await Promise.race([
            this.#tickGate,
            new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
          ]);
        try {
          return await command(this.#clock.now());
        } catch (error) {
          if (error instanceof EngineError) throw error;
          if (isUnavailable(error)) throw unavailable(error);
          throw error;
        }
      })(),
    );
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    const done = () => this.#inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /**
   * Reads, decides, applies; again when another engine won a race. `attempt`
   * reads the view on `db` and calls the rule. The first tries run on the
   * pool (reads and writes batched with other commands'); later ones in a
   * transaction that first takes the user's lock (the user of the last try),
   * so a user's own concurrent commands cannot keep a command losing.
   */
  async #decide<A>(
    command: string,
    now: number,
    knownUser: string | undefined,
    attempt: (db: Queryable) => Promise<Attempt<A>>,
  ): Promise<{ answer: A; result?: unknown }> {
    const started = performance.now();
    const outcome = await this.#decideOnce(now, knownUser, attempt);
    if (outcome.committed)
      this.#tell((observer) =>
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
        const step = await attempt(this.#db);
        if (step === 'again') continue;
        const { decision, assume } = step;
        if (decision.changes.length === 0) return { answer: decision.answer };
        user = assume.userId ?? user;
        try {
          return {
            answer: decision.answer,
            result: await this.#apply(this.#db, decision, now, assume),
            committed: true,
          };
        } catch (error) {
          if (!isConflict(error)) throw error;
          continue;
        }
      }
      const outcome = await this.#slots.with(() =>
        this.#onClient(async (client) => {
          await client.query('BEGIN');
          try {
            await query(client, 'SELECT pg_advisory_xact_lock($1, hashtext($2))', [
              USER_LOCKS,
              user,
            ]);
            const step = await attempt(client);
            if (step === 'again' || step.decision.changes.length === 0) {
              await client.query('COMMIT');
              return step === 'again' ? step : { answer: step.decision.answer };
            }
            const result = await this.#apply(client, step.decision, now, step.assume);
            await client.query('COMMIT');
            return { answer: step.decision.answer, result, committed: true as const };
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined);
            if (isConflict(error)) return 'again' as const;
            throw error;
          }
        }),
      );
      if (outcome !== 'again') return outcome;
    }
    throw new EngineError('UNAVAILABLE', 'too many concurrent changes to the same data; try again');
  }

  /**
   * Applies a decision: on the pool, together with the other commands' decisions ready
   * at the same time (see {@link #applyMany}); inside a transaction, on its own.
   */
  async #apply(
    db: Queryable,
    decision: Decision<unknown>,
    now: number,
    assume: Assumptions,
  ): Promise<unknown> {
    const typed = typedApply(decision.changes, now, assume);
    if (typed && db !== this.#db) return this.#applyTyped(db, typed.kind, [typed]).then(only);
    if (typed)
      return (
        typed.atOnce === true ? this.#issuesAtOnce : this.#typedApplies.get(typed.kind.name)!
      ).submit(typed);
    // Issues at once keep the bound of active tokens (migration 7): only usher_issue_many issues.
    if (decision.changes.some((change) => change.type === 'tokenIssued'))
      throw new Error('a token is issued by usher_issue_many only');
    const changes = JSON.stringify(decision.changes);
    if (db === this.#db)
      return this.#applies.submit({
        user: assume.userId ?? '',
        changes,
        now,
        assume: JSON.stringify(assume),
      });
    const { rows } = await query<{ result: unknown }>(
      db,
      'SELECT usher_apply($1::jsonb, $2, $3::jsonb) AS result',
      [changes, now, JSON.stringify(assume)],
    );
    return rows[0]?.result;
  }

  /**
   * Group commit: the decisions waiting to be applied go in one statement
   * (`usher_apply_many`, migration 003), each in a subtransaction of its own,
   * committed together: one round trip and one WAL flush for the lot.
   * Each command is answered only after the batch's commit; a decision
   * refused in the batch (a condition that no longer holds) changed nothing
   * and is decided again, as before.
   */
  async #applyMany(items: readonly ApplyItem[]): Promise<Outcome<unknown>[]> {
    // By user, so concurrent batches take users' locks in the same order.
    const order = items
      .map((_, i) => i)
      .sort((a, b) => compareText(items[a]!.user, items[b]!.user));
    const { rows } = await query<{ results: ({ r: unknown } | { e: string; m: string })[] }>(
      this.#pool,
      'SELECT usher_apply_many($1::jsonb[], $2::bigint[], $3::jsonb[]) AS results',
      [
        order.map((i) => items[i]!.changes),
        order.map((i) => items[i]!.now),
        order.map((i) => items[i]!.assume),
      ],
    );
    const outcomes: Outcome<unknown>[] = new Array(items.length);
    rows[0]!.results.forEach((result, k) => {
      outcomes[order[k]!] =
        'r' in result
          ? { ok: true, value: result.r }
          : { ok: false, error: Object.assign(new Error(result.m), { code: result.e }) };
    });
    return outcomes;
  }

  /**
   * Applies decisions of one typed kind (migration 006) in one statement, as
   * {@link #applyMany} does: each in a subtransaction of its own, committed
   * together, sorted by user.
   */
  async #applyTyped(
    db: Queryable,
    kind: ApplyKind,
    items: readonly TypedApply[],
  ): Promise<Outcome<IssuedRow>[]> {
    const order = items
      .map((_, i) => i)
      .sort((a, b) => compareText(items[a]!.user, items[b]!.user));
    const args = kind.types.map((_, k) => order.map((i) => items[i]!.args[k]));
    const { rows } = await query<{
      o_err: string | null;
      o_msg: string | null;
      o_seq: string | null;
      o_gone: string | null;
      o_tick: string | null;
    }>(db, applySql(kind), args);
    const outcomes: Outcome<IssuedRow>[] = new Array(items.length);
    rows.forEach((row, k) => {
      outcomes[order[k]!] =
        row.o_err === null
          ? {
              ok: true,
              value:
                row.o_seq === null
                  ? {}
                  : { seq: row.o_seq, gone: row.o_gone ?? 0, tick: row.o_tick ?? 0 },
            }
          : {
              ok: false,
              error: Object.assign(new Error(row.o_msg ?? 'the apply failed'), { code: row.o_err }),
            };
    });
    return outcomes;
  }

  /** The batches of one view kind. */
  #viewBatch(kind: ViewKind): Batcher<ViewItem, Record<string, unknown>> {
    let batcher = this.#viewBatches.get(kind.name);
    if (!batcher) {
      batcher = new Batcher((items) => this.#readViews(this.#pool, kind, items), {
        concurrency: BATCHES,
        max: READ_BATCH,
        slots: this.#slots,
      });
      this.#viewBatches.set(kind.name, batcher);
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
    const { rows } = await query(db, viewSql(kind), [
      items.map((item) => item.token),
      items.map((item) => item.now),
      this.config.queueWaitingTtlMs,
      ...params,
    ]);
    return byOrdinal(rows, items.length);
  }

  /** Reads issue views (by user: `token` is the user id) in one statement. */
  async #readIssueViews(
    db: Queryable,
    items: readonly ViewItem[],
  ): Promise<Outcome<Record<string, unknown>>[]> {
    const { rows } = await query(db, ISSUE_VIEW, [
      items.map((item) => item.token),
      items.map((item) => item.now),
      this.config.queueWaitingTtlMs,
      this.config.queueMaxActive,
    ]);
    return byOrdinal(rows, items.length);
  }

  /**
   * One view read: the command's token and what `kind` reads beside it. On
   * the pool it joins the next batch of its kind; on a client (a command
   * holding its user's lock), it runs alone. A malformed token argument
   * finds no token: the rule then refuses it at its place among the
   * command's checks. `again` when the view must be read anew (see {@link #facts}).
   */
  async #read<R>(
    token: unknown,
    now: number,
    kind: ViewKind,
    params: readonly unknown[],
    db: Queryable = this.#db,
  ): Promise<{ facts: Facts; row: R & Partial<TokenRow> } | 'again'> {
    const valid = isTokenArg(token);
    const item = { token: valid ? token : '', now, params };
    const read =
      db === this.#db
        ? this.#viewBatch(kind).submit(item)
        : this.#readViews(db, kind, [item]).then(only);
    const row = (await read) as unknown as R & TokenRow;
    const facts = await this.#facts(token, valid && row.token ? row : undefined, now);
    return facts === 'again' ? facts : { facts, row };
  }

  /** {@link #read} until it holds. */
  async #view<R>(
    token: unknown,
    now: number,
    kind: ViewKind,
    params: readonly unknown[],
    db: Queryable = this.#db,
  ): Promise<{ facts: Facts; row: R & Partial<TokenRow> }> {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const read = await this.#read<R>(token, now, kind, params, db);
      if (read !== 'again') return read;
    }
    throw new EngineError('UNAVAILABLE', 'the waiting line kept changing; try again');
  }

  async #readReservation(token: unknown, reservationId: string, now: number, db: Queryable) {
    const { facts, row } = await this.#view<{ reservation: Record<string, unknown> | null }>(
      token,
      now,
      views.reservation,
      [reservationId],
      db,
    );
    const reservation: ReservationRecord | undefined = row.reservation
      ? reservationRecord(row.reservation)
      : undefined;
    return { facts, reservation };
  }

  /**
   * The token facts the rules take. For a waiting token, its place is worked
   * out first (the rules ask for it synchronously); `again` when a catch-up
   * step ran or the line moved under the read, and the view must be read anew.
   */
  async #facts(arg: unknown, row: TokenRow | undefined, now: number): Promise<Facts | 'again'> {
    const token = tokenState(row, now, this.config, this.#lifecycles);
    let place = NOWHERE;
    if (token?.status === 'waiting') {
      if (this.#mirror.needsCatchUp(now, this.config.queueTickMs)) {
        await this.#catchUp(now);
        return 'again';
      }
      const found = await this.#placeOf(row!, now);
      if (!found) return 'again';
      place = found;
    }
    return { arg, token, placeOf: () => place, row, lastSeenAt: Number(row?.last_seen_at ?? now) };
  }

  /** A waiting token's place: by its line number in memory, or after the line when it has none yet. */
  async #placeOf(row: TokenRow, now: number): Promise<Place | undefined> {
    if (Number(row.tick) > this.#mirror.applied) await this.#refresh();
    return this.#placeNow(row, now);
  }

  /** {@link #placeOf} from what this instance has applied; `undefined` when that is not enough. Before the opening, no rank. */
  #placeNow(row: TokenRow, now: number): Place | undefined {
    if (this.#mirror.room.pendingOpening) return this.#beforeOpening(now);
    if (row.line === null) {
      // Read against another step than the one applied: the token may have a line by now.
      if (Number(row.tick) !== this.#mirror.applied) return undefined;
      return this.#place(
        this.#mirror.line.size +
          Number(row.seq) -
          this.#mirror.seqEnd -
          Number(row.gone_below ?? 0),
      );
    }
    const line = Number(row.line);
    if (line > this.#mirror.line.end) return undefined;
    const position = this.#mirror.rank(line);
    return position === 0 ? undefined : this.#place(position);
  }

  #place(position: number): Place {
    return { position, estimatedWaitSeconds: this.#mirror.rate.secondsFor(position) };
  }

  /** A waiting token's place while the room waits for its opening (the line as of the last step is the crowd). */
  #beforeOpening(now: number): Place {
    return placeBeforeOpening(this.#mirror.room, now, this.#mirror.line.size, this.#mirror.rate);
  }

  /** A token's view, as a poll: a waiting token's poll is recorded (lazily, see the class notes). */
  async #tokenView(token: unknown, now: number, known?: Facts): Promise<QueueToken> {
    requireTokenArg(token);
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const facts =
        tries === 0 && known
          ? known
          : (await this.#view<object>(token, now, views.token, [])).facts;
      const live = requireReadable(facts.token, now, this.#lifecycles);
      let lastSeenAt = facts.lastSeenAt;
      if (live.status === 'waiting' && lastSeenAt < now - this.#pollSlackMs) {
        const { rows } = await query<{ last_seen_at: string }>(
          this.#db,
          `UPDATE tokens SET last_seen_at = $2 WHERE token = $1 AND status = 'waiting' AND last_seen_at > $3 RETURNING last_seen_at`,
          [live.token, now, now - this.config.queueWaitingTtlMs],
        );
        if (rows.length === 0) continue; // admitted or abandoned meanwhile: look again
        lastSeenAt = now;
      }
      return tokenView(
        live,
        live.status === 'waiting' ? facts.placeOf(live) : NOWHERE,
        lastSeenAt,
        this.config,
      );
    }
    throw new EngineError('UNAVAILABLE', 'the token kept changing; try again');
  }

  async #onClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      const result = await work(client);
      client.release();
      return result;
    } catch (error) {
      client.release(isUnavailable(error) ? (error as Error) : undefined);
      throw error;
    }
  }

  // ——— the line, the keeper, the watchers ———

  /** A catch-up step (see the class notes), at most one at a time per instance. */
  #catchUp(now: number): Promise<void> {
    this.#catchingUp ??= (async () => {
      try {
        await this.#onClient((client) =>
          runStep(client, now, { config: this.config, lifecycles: this.#lifecycles, real: false }),
        );
        await this.#refresh();
      } finally {
        this.#catchingUp = undefined;
      }
    })();
    return this.#catchingUp;
  }

  /** Applies the published steps this instance has not seen, then updates its watchers. One at a time; a call meanwhile runs once more after. */
  #refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#refreshAgain = false;
          for (;;) {
            const { rows } = await query(
              this.#pool,
              `SELECT ${TICK_COLUMNS} FROM queue_ticks WHERE no > $1 ORDER BY no LIMIT 1000`,
              [this.#mirror.applied],
            );
            let reload = false;
            for (const row of rows) {
              if (!this.#mirror.apply(tickRow(row, this.config))) {
                reload = true;
                break;
              }
            }
            if (reload) await this.#reload();
            if (reload || rows.length < 1000) break;
          }
        } while (this.#refreshAgain);
      } finally {
        this.#refreshing = undefined;
      }
      if (this.#watched.size > 0) await this.#refreshWatchers();
    })();
    return this.#refreshing;
  }

  /** Rebuilds the line from the tokens and the last step, in one snapshot: at start, or after falling too far behind. */
  async #reload(): Promise<void> {
    const { rows } = await query<{ last: Record<string, unknown> | null; lines: string[] }>(
      this.#pool,
      `SELECT (SELECT row_to_json(q) FROM (SELECT ${TICK_COLUMNS} FROM queue_ticks ORDER BY no DESC LIMIT 1) q) AS last,
              (SELECT coalesce(array_agg(line ORDER BY line), '{}') FROM tokens WHERE status = 'waiting' AND line IS NOT NULL) AS lines`,
      [],
    );
    const { last, lines } = rows[0]!;
    this.#mirror.load(last ? tickRow(last, this.config) : undefined, lines.map(Number));
  }

  /**
   * Tells watchers what changed: one query for all of this instance's watched
   * tokens (which also records their polls: a watched token is not
   * abandoned), then positions from memory.
   */
  #refreshWatchers(): Promise<void> {
    if (this.#watchRefreshing) {
      this.#watchAgain = true;
      return this.#watchRefreshing;
    }
    this.#watchRefreshing = (async () => {
      try {
        do {
          this.#watchAgain = false;
          await this.#updateWatchers(this.#clock.now());
        } while (this.#watchAgain);
      } finally {
        this.#watchRefreshing = undefined;
      }
    })();
    return this.#watchRefreshing;
  }

  async #updateWatchers(now: number): Promise<void> {
    const tokens = [...this.#watched.keys()];
    if (tokens.length === 0) return;
    const ttl = this.config.queueWaitingTtlMs;
    const { rows } = await query<TokenRow>(
      this.#pool,
      `WITH touched AS (
         UPDATE tokens SET last_seen_at = $2
          WHERE token = ANY($1) AND status = 'waiting' AND last_seen_at < $2::bigint - $4::bigint AND last_seen_at > $2::bigint - $3::bigint
          RETURNING token, last_seen_at
       )
       SELECT t.token, t.user_id, t.status, t.seq, t.line, t.issued_at, t.expires_at,
              coalesce(u.last_seen_at, t.last_seen_at) AS last_seen_at,
              (SELECT coalesce(max(no), 0) FROM queue_ticks) AS tick,
              CASE WHEN t.status = 'waiting' AND t.line IS NULL THEN ${goneBelow('t.seq', '$2::bigint - $3::bigint')} END AS gone_below
         FROM tokens t LEFT JOIN touched u USING (token)
        WHERE t.token = ANY($1)`,
      [tokens, now, ttl, this.#pollSlackMs],
    );
    const byToken = new Map(rows.map((row) => [row.token!, row]));
    if (rows.some((row) => Number(row.tick) > this.#mirror.applied)) {
      // The line moved after the last refresh: the next refresh comes back here.
      this.#watchAgain = true;
      void this.#refresh();
    }
    const updates: QueueToken[] = [];
    for (const token of tokens) {
      const last = this.#watched.get(token);
      if (!last) continue;
      const row = byToken.get(token);
      const state = tokenState(row, now, this.config, this.#lifecycles);
      let view: QueueToken;
      if (state?.status === 'waiting') {
        const place = this.#placeNow(row!, now);
        if (!place) continue; // the refresh under way comes back here
        // Before the opening only the opening itself is news: the countdown to opensAt is the watcher's to show.
        if (
          place.position === last.position &&
          (place.position === null || place.estimatedWaitSeconds === last.estimatedWaitSeconds)
        )
          continue;
        view = tokenView(state, place, Number(row!.last_seen_at), this.config);
      } else if (state?.status === 'active') {
        view = tokenView(state, NOWHERE, Number(row!.last_seen_at), this.config);
      } else {
        view = endedView(last, this.#mirror.room.soldOut ? 'sold_out' : undefined);
      }
      updates.push(view);
      if (view.status === 'waiting') this.#watched.set(token, view);
      else this.#watched.delete(token);
    }
    this.#watchers.deliver(updates);
  }

  /** LISTENs for keeper steps on a connection of its own; reconnects (and catches up) when it is lost. */
  async #listen(): Promise<void> {
    if (this.#closing) return;
    const client = await this.#pool.connect();
    const lost = () => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.release(true);
      this.#listenLater(250);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => void this.#refresh().catch(() => undefined));
    try {
      await client.query('LISTEN usher_tick');
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.#listener = client;
    // Whatever was published while not listening.
    await this.#refresh();
  }

  #listenLater(delayMs: number): void {
    if (this.#closing || this.#listenRetry) return;
    // Wall-clock timers, not the injected clock: reconnecting is not a rule's business.
    this.#listenRetry = setTimeout(() => {
      this.#listenRetry = undefined;
      this.#listen().catch(() => this.#listenLater(Math.min(delayMs * 2, 5_000)));
    }, delayMs);
    this.#listenRetry.unref();
  }

  #every(timer: 'tick' | 'sweep', ms: number): void {
    this.#timers.set(
      timer,
      this.#clock.setTimeout(() => {
        if (this.#closing) return;
        this.#every(timer, ms);
        if (timer === 'sweep') {
          void this.#track(this.#keeperSweep()).catch(() => undefined);
          return;
        }
        if (this.#ticking) return; // the tick under way is slow: this one is skipped, and the gate stays
        const gate: Promise<void> = this.#track(this.#keeperTick())
          .catch(() => undefined)
          .finally(() => {
            if (this.#tickGate === gate) this.#tickGate = undefined;
          });
        this.#tickGate = gate;
      }, ms),
    );
  }

  /** The room and its counts (see {@link room}). */
  async #roomAt(db: Queryable, now: number): Promise<Room> {
    const { rows } = await query<Record<string, unknown>>(
      db,
      `SELECT ${ROOM_COLUMNS},
              (SELECT count(*) FROM tokens WHERE status = 'active' AND expires_at > $1) AS active,
              coalesce((SELECT waiting FROM queue_ticks ORDER BY no DESC LIMIT 1), 0)
                + (SELECT count(*) FROM tokens WHERE status = 'waiting' AND line IS NULL) AS waiting
         FROM room WHERE id = 1`,
      [now],
    );
    const row = rows[0];
    if (!row) throw new Error('the room row is missing (the engine inserts it at start)');
    const { room, admittedTotal } = roomRow(row);
    return roomView(room, {
      waiting: Number(row['waiting']),
      active: Number(row['active']),
      admittedTotal,
    });
  }

  #tell(report: (observer: EngineObserver) => void): void {
    for (const observer of this.#observers) {
      try {
        report(observer);
      } catch {
        // An observer's fault is not the command's.
      }
    }
  }

  /** A timer's tick: compete for the keeper's seat (every tick), and tick if this instance holds it. */
  async #keeperTick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      if (!(await this.#keeper.ensure())) return;
      const started = performance.now();
      const { report } = await this.#keeper.tick(this.#clock.now(), {
        config: this.config,
        lifecycles: this.#lifecycles,
      });
      this.#timed(started, report.admitted);
      await this.#refresh();
    } finally {
      this.#ticking = false;
    }
  }

  async #keeperSweep(): Promise<void> {
    if (this.#keeper.held)
      await this.#keeper.sweep(this.#clock.now(), {
        config: this.config,
        lifecycles: this.#lifecycles,
      });
  }

  #timed(started: number, admitted: number): void {
    this.#lastTickMs = performance.now() - started;
    this.#maxTickMs = Math.max(this.#maxTickMs, this.#lastTickMs);
    const durationMs = this.#lastTickMs;
    this.#tell((observer) => observer.tick?.({ durationMs, admitted }));
  }
}
