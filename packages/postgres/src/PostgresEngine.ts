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
  MAX_ID_LENGTH,
  priceOf,
  requireId,
  requireLive,
  requireTokenArg,
  reservationView,
  TokenWatchers,
  tokenView,
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
import { isConflict, isUnavailable, query, unavailable, USER_LOCKS, type Queryable } from './database.js';
import { KeeperSession } from './KeeperSession.js';
import { QueueMirror, TICK_COLUMNS, tickRow } from './QueueMirror.js';
import { ensureRoom, ROOM_COLUMNS, roomRow } from './room.js';
import { RESERVATION_COLUMNS, reservationRecord, runRoomUpdate, runStep, runSweep } from './steps.js';
import {
  compareText,
  concertRecord,
  goneBelow,
  idempotencyRecord,
  isStale,
  orderedLike,
  scheduleRecord,
  tokenCte,
  tokenState,
  type TokenRow,
} from './views.js';

/** What `usher_apply` is told the decision assumed (see migration 002). */
interface Assumptions {
  readonly userId?: string;
  readonly token?: string;
  readonly heldByUser?: number;
  readonly balance?: number;
  readonly waitingTtlMs?: number;
  readonly maxActive?: number;
}

/** One attempt of a command: the decision and what it assumed, or `again` to read the state once more. */
type Attempt<A> = { readonly decision: Decision<A>; readonly assume: Assumptions } | 'again';

/** What `usher_apply` answers for a new waiting token. */
interface IssuedRow {
  readonly seq?: string | number;
  readonly gone?: string | number;
  readonly tick?: string | number;
}

/** A decision waiting for its batch. */
interface PendingApply {
  readonly user: string;
  readonly changes: string;
  readonly now: number;
  readonly assume: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Batches of decisions applied at once, and the most decisions in one (a backend caches 64 subtransactions). */
const APPLY_BATCHES = 2;
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
 * rule, and applies the decision's changes in one statement (`usher_apply`),
 * each as a conditional write restating what the decision assumed. If another
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
  /** Commands that may use the pool at once; the others wait here, in order (see {@link #run}). */
  #slots: number;
  readonly #waiting: (() => void)[] = [];
  /** Decisions waiting for the next batch (see {@link #flushApplies}). */
  readonly #applies: PendingApply[] = [];
  #applyBatches = 0;
  #lastTickMs = 0;
  #maxTickMs = 0;
  readonly #observers = new Set<EngineObserver>();

  /** @internal Use {@link createPostgresEngine}. */
  constructor(options: { pool: pg.Pool; ownsPool: boolean; clock: Clock; config: EngineConfig; keeper: boolean; commandSlots: number }) {
    this.#slots = Math.max(1, options.commandSlots);
    this.config = options.config;
    this.#pool = options.pool;
    this.#ownsPool = options.ownsPool;
    this.#clock = options.clock;
    this.#lifecycles = lifecyclesFor(this.config);
    this.#mirror = new QueueMirror(this.config);
    this.#keeper = new KeeperSession(this.#pool, `usher-${process.pid}-${randomBytes(4).toString('hex')}`);
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
          timer = setTimeout(() => reject(new Error('connection timeout: the database did not answer within 1 s')), 1_000);
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
      const texts = (values: readonly unknown[]) => values.filter((value): value is string => typeof value === 'string');
      if (typeof catalog !== 'object' || catalog === null || !Array.isArray(catalog.concerts) || !Array.isArray(catalog.schedules)) {
        decideLoadCatalog({ concert: () => undefined, schedule: () => undefined }, catalog);
      }
      const concertIds = texts([...catalog.concerts.map((concert) => concert?.id), ...catalog.schedules.map((schedule) => schedule?.concertId)]);
      const scheduleIds = texts(catalog.schedules.map((schedule) => schedule?.id));
      const { answer } = await this.#decide('loadCatalog', now, undefined, async (db) => {
        const { rows } = await query<{ concerts: Record<string, unknown>[]; schedules: Record<string, unknown>[] }>(db, 
          `SELECT (SELECT coalesce(json_agg(record), '[]') FROM concerts WHERE id = ANY($1)) AS concerts,
                  (SELECT coalesce(json_agg(record), '[]') FROM schedules WHERE id = ANY($2)) AS schedules`,
          [concertIds, scheduleIds],
        );
        const concerts = new Map(rows[0]!.concerts.map((json) => [json['id'] as string, concertRecord(json)]));
        const schedules = new Map(rows[0]!.schedules.map((json) => [json['id'] as string, scheduleRecord(json)]));
        const decision = decideLoadCatalog({ concert: (id) => concerts.get(id), schedule: (id) => schedules.get(id) }, catalog);
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
      if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_ID_LENGTH) {
        decideIssue({ live: undefined, waiting: 0, active: 0, room: this.#mirror.room }, userId, now, config, this.#lifecycles, fresh());
      }
      let facts: Facts | undefined;
      let created: TokenState | undefined;
      const { answer, result } = await this.#decide<Issued>('issueToken', now, userId, async (db) => {
        // The room is read with the view: admission at issue follows the operator's settings at once.
        const { rows } = await query<TokenRow & { someone_waits: boolean; active: string | null; room: Record<string, unknown> | null }>(db, 
          `WITH ${tokenCte(`t.user_id = $1 AND t.status IN ('waiting', 'active')`, 2, 3)},
           r AS (SELECT ${ROOM_COLUMNS} FROM room WHERE id = 1)
           SELECT tk.*, w.someone_waits, (SELECT row_to_json(r) FROM r) AS room,
             CASE WHEN NOT w.someone_waits THEN
               (SELECT count(*) FROM (SELECT 1 FROM tokens WHERE status = 'active' AND expires_at > $2
                 LIMIT coalesce((SELECT max_active FROM r), $4)) a)
             END AS active
           FROM (SELECT EXISTS (SELECT 1 FROM tokens WHERE status = 'waiting' AND last_seen_at > $2::bigint - $3::bigint) AS someone_waits) w
           LEFT JOIN tk ON true`,
          [userId, now, config.queueWaitingTtlMs, config.queueMaxActive],
        );
        const row = rows[0]!;
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
        const view = { live: found.token, waiting: row.someone_waits ? 1 : 0, active: Number(row.active ?? room.maxActive), room };
        const decision = decideIssue(view, userId, now, config, this.#lifecycles, fresh());
        created = decision.answer.created ? decision.answer.token : undefined;
        return { decision, assume: { userId, waitingTtlMs: config.queueWaitingTtlMs, maxActive: room.maxActive } };
      });
      if (!answer.created) {
        // The user's live token again, which counts as a poll.
        return { token: await this.#tokenView(answer.token.token, now, facts), created: false };
      }
      // Issued already ended (sold out): nothing was stored.
      if (answer.token.status === 'expired') return { token: tokenView(answer.token, NOWHERE, now, config, answer.reason), created: true };
      const issued = (result ?? {}) as IssuedRow;
      let place = NOWHERE;
      if (created?.status === 'waiting') {
        const tick = Number(issued.tick ?? 0);
        if (tick > this.#mirror.applied) await this.#refresh();
        if (tick !== this.#mirror.applied) return { token: await this.#tokenView(answer.token.token, now), created: true };
        place = this.#mirror.room.pendingOpening
          ? this.#beforeOpening(now)
          : this.#place(this.#mirror.line.size + Number(issued.seq) - this.#mirror.seqEnd - Number(issued.gone ?? 0));
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
      const { rows } = await query<TokenRow>(this.#pool, `WITH ${tokenCte('t.token = $1', 2, 3)} SELECT * FROM tk`, [token, now, this.config.queueWaitingTtlMs]);
      const row = rows[0];
      if (!row) return undefined;
      // Kept (expired) tokens still identify their user, as in the embedded engine; ended ones do not.
      return row.status === 'expired' || tokenState(row, now, this.config, this.#lifecycles) ? row.user_id! : undefined;
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
        `(SELECT coalesce(json_agg(record), '[]') FROM concerts) AS concerts`,
        [],
      );
      checkListConcerts(facts, now, this.#lifecycles);
      return row.concerts.map(concertRecord).sort((a, b) => compareText(a.id, b.id));
    });
  }

  listSchedules(token: string, concertId: string): Promise<readonly Schedule[]> {
    return this.#run(async (now) => {
      requireId(concertId, 'concertId');
      const { facts, row } = await this.#view<{ concert: unknown; schedules: { record: Record<string, unknown>; taken: number }[] }>(
        token,
        now,
        `(SELECT record FROM concerts WHERE id = $4) AS concert,
         (SELECT coalesce(json_agg(json_build_object('record', s.record, 'taken',
            (SELECT count(*) FROM reservations r
              WHERE r.schedule_id = s.id AND r.status IN ('held', 'paid') AND (r.status = 'paid' OR r.expires_at > $2)))), '[]')
            FROM schedules s WHERE s.concert_id = $4) AS schedules`,
        [concertId],
      );
      checkListSchedules({ ...facts, concert: row.concert ?? undefined }, concertId, now, this.#lifecycles);
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
      const { facts, row } = await this.#view<{ schedule: Record<string, unknown> | null; taken: number[] }>(
        token,
        now,
        `(SELECT record FROM schedules WHERE id = $4) AS schedule,
         (SELECT coalesce(array_agg(seat_no ORDER BY seat_no), '{}') FROM reservations
           WHERE schedule_id = $4 AND status IN ('held', 'paid') AND (status = 'paid' OR expires_at > $2)) AS taken`,
        [scheduleId],
      );
      checkListSeats({ ...facts, schedule: row.schedule ?? undefined }, scheduleId, now, this.#lifecycles);
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

  reserve(token: string, seat: { readonly scheduleId: string; readonly seatNo: number }): Promise<Reservation> {
    return this.#run(async (now) => {
      const command = checkReserve(seat);
      const { answer } = await this.#decide('reserve', now, undefined, async (db) => {
        const read = await this.#read<{ schedule: Record<string, unknown> | null; occupant: Occupant | null; held: string | null }>(
          token,
          now,
          `(SELECT record FROM schedules WHERE id = $4) AS schedule,
           (SELECT json_build_object('id', id, 'userId', user_id, 'status', status, 'expiresAt', expires_at)
              FROM reservations WHERE schedule_id = $4 AND seat_no = $5 AND status IN ('held', 'paid')) AS occupant,
           (SELECT count(*) FROM reservations WHERE user_id = tk.user_id AND status = 'held' AND expires_at > $2) AS held`,
          [command.scheduleId, command.seatNo],
          db,
        );
        if (read === 'again') return read;
        const { facts, row } = read;
        const record = row.schedule ? scheduleRecord(row.schedule) : undefined;
        const heldByUser = Number(row.held ?? 0);
        const view = {
          ...facts,
          schedule: record && { id: record.id, totalSeats: record.totalSeats, priceOf: (seatNo: number) => priceOf(record.prices, seatNo) },
          occupant: row.occupant ? { ...row.occupant, expiresAt: Number(row.occupant.expiresAt) } : undefined,
          heldByUser,
        };
        const decision = decideReserve(view, command, now, this.config, this.#lifecycles, newId());
        return { decision, assume: { userId: facts.token!.userId, token: facts.token!.token, heldByUser } };
      });
      return reservationView(answer);
    });
  }

  getReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#run(async (now) => {
      requireId(reservationId, 'reservationId');
      const { facts, reservation } = await this.#readReservation(token, reservationId, now, this.#pool);
      return reservationView(decideGetReservation({ ...facts, reservation }, reservationId, now, this.#lifecycles));
    });
  }

  listReservations(token: string, options: { readonly status?: 'held' | 'paid' } = {}): Promise<readonly Reservation[]> {
    return this.#run(async (now) => {
      const status = checkListStatus(options?.status);
      // One indexed read (reservations_live_by_user): the token's user's held and paid rows; the rule drops holds past their deadline.
      const { facts, row } = await this.#view<{ reservations: Record<string, unknown>[] | null }>(
        token,
        now,
        `(SELECT json_agg(row_to_json(r)) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations
            WHERE user_id = tk.user_id AND status IN ('held', 'paid')) r) AS reservations`,
        [],
      );
      const reservations = (row.reservations ?? []).map(reservationRecord);
      return decideListReservations({ ...facts, reservations }, status, now, this.#lifecycles).map(reservationView);
    });
  }

  cancelReservation(token: string, reservationId: string): Promise<Reservation> {
    return this.#run(async (now) => {
      requireId(reservationId, 'reservationId');
      const { answer } = await this.#decide('cancelReservation', now, undefined, async (db) => {
        const { facts, reservation } = await this.#readReservation(token, reservationId, now, db);
        const decision = decideCancel({ ...facts, reservation }, reservationId, now, this.#lifecycles);
        return { decision, assume: { userId: facts.token?.userId, token: facts.token?.token } as Assumptions };
      });
      return reservationView(answer);
    });
  }

  pay(token: string, payment: { readonly reservationId: string }, options: IdempotencyOptions = {}): Promise<Payment> {
    return this.#run(async (now) => {
      const command = checkPay({ reservationId: payment?.reservationId, idempotencyKey: options.idempotencyKey });
      const { answer } = await this.#decide('pay', now, undefined, async (db) => {
        const read = await this.#read<{ stored: Record<string, unknown> | null; reservation: Record<string, unknown> | null; balance: string; held: string | null }>(
          token,
          now,
          `(SELECT json_build_object('fingerprint', fingerprint, 'result', result, 'created_at', created_at)
              FROM idempotency_keys WHERE user_id = tk.user_id AND key = $4) AS stored,
           (SELECT row_to_json(r) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = $5) r) AS reservation,
           coalesce((SELECT balance FROM wallets WHERE user_id = tk.user_id), 0) AS balance,
           (SELECT count(*) FROM reservations WHERE user_id = tk.user_id AND status = 'held' AND expires_at > $2) AS held`,
          [command.idempotencyKey ?? '', command.reservationId],
          db,
        );
        if (read === 'again') return read;
        const { facts, row } = read;
        const userId = facts.token?.userId ?? '';
        const stored = command.idempotencyKey === undefined ? undefined : idempotencyRecord(row.stored, userId, command.idempotencyKey);
        const view = {
          ...facts,
          stored: stored && { ...stored, result: orderedLike(PAYMENT_KEYS, stored.result as Record<string, unknown>) },
          reservation: row.reservation ? reservationRecord(row.reservation) : undefined,
          balance: Number(row.balance),
          heldByUser: Number(row.held ?? 0),
        };
        const decision = decidePay(view, command, now, this.config, this.#lifecycles, newId());
        return { decision, assume: { userId, token: facts.token?.token, balance: view.balance, heldByUser: view.heldByUser } as Assumptions };
      });
      return answer;
    });
  }

  getBalance(token: string, userId: string): Promise<Wallet> {
    return this.#run(async (now) => {
      requireId(userId, 'userId');
      const { facts, row } = await this.#view<{ balance: string }>(
        token,
        now,
        `coalesce((SELECT balance FROM wallets WHERE user_id = $4), 0) AS balance`,
        [userId],
      );
      return decideGetBalance({ ...facts, balance: Number(row.balance) }, userId, now, this.#lifecycles);
    });
  }

  charge(token: string, charge: { readonly userId: string; readonly amount: number }, options: IdempotencyOptions = {}): Promise<Wallet> {
    return this.#run(async (now) => {
      const command = checkCharge({ userId: charge?.userId, amount: charge?.amount, idempotencyKey: options.idempotencyKey }, this.config);
      const { answer } = await this.#decide('charge', now, undefined, async (db) => {
        const read = await this.#read<{ stored: Record<string, unknown> | null; balance: string }>(
          token,
          now,
          `(SELECT json_build_object('fingerprint', fingerprint, 'result', result, 'created_at', created_at)
              FROM idempotency_keys WHERE user_id = tk.user_id AND key = $4) AS stored,
           coalesce((SELECT balance FROM wallets WHERE user_id = $5), 0) AS balance`,
          [command.idempotencyKey ?? '', command.userId],
          db,
        );
        if (read === 'again') return read;
        const { facts, row } = read;
        const stored = command.idempotencyKey === undefined ? undefined : idempotencyRecord(row.stored, facts.token?.userId ?? '', command.idempotencyKey);
        const view = {
          ...facts,
          stored: stored && { ...stored, result: orderedLike(WALLET_KEYS, stored.result as Record<string, unknown>) },
          balance: Number(row.balance),
        };
        const decision = decideCharge(view, command, now, this.config, this.#lifecycles);
        return { decision, assume: { userId: command.userId, token: facts.token?.token, balance: view.balance } as Assumptions };
      });
      return answer;
    });
  }

  /** Runs a scheduler tick now, on this instance (steps never overlap, whoever runs them). */
  tick(): Promise<TickReport> {
    return this.#run(async (now) => {
      const started = performance.now();
      const { report } = await this.#onClient((client) => runStep(client, now, { config: this.config, lifecycles: this.#lifecycles, real: true }));
      this.#timed(started, report.admitted);
      await this.#refresh();
      return report;
    });
  }

  /** Runs the safety sweep now, on this instance. */
  sweep(): Promise<void> {
    return this.#run((now) => this.#onClient((client) => runSweep(client, now, { config: this.config, lifecycles: this.#lifecycles })));
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
      const { before, after } = await this.#onClient((client) => runRoomUpdate(client, now, patch, options));
      if (before !== after) {
        this.#tell((observer) => observer.commit?.({ command: 'updateRoom', durationMs: performance.now() - started }));
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
      this.#pool,
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
   * is `UNAVAILABLE`. Commands beyond what the pool serves at once wait
   * here, in order, rather than in the pool's queue, whose wait counts
   * against its connection timeout: a burst waits, and only a database that
   * cannot be reached answers `UNAVAILABLE`.
   */
  #run<T>(command: (now: number) => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new EngineError('SHUTTING_DOWN', 'the engine is shutting down'));
    return this.#track(
      (async () => {
        // Like a mailbox: a command waits for the tick a timer started before it (bounded, in wall time,
        // so an unreachable database cannot hold commands up), so it sees what that tick did.
        if (this.#tickGate) await Promise.race([this.#tickGate, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
        if (this.#slots > 0) this.#slots--;
        else await new Promise<void>((resolve) => this.#waiting.push(resolve));
        try {
          return await command(this.#clock.now());
        } catch (error) {
          if (error instanceof EngineError) throw error;
          if (isUnavailable(error)) throw unavailable(error);
          throw error;
        } finally {
          const next = this.#waiting.shift();
          if (next) next();
          else this.#slots++;
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
   * pool; later ones in a transaction that first takes the user's lock (the
   * user of the last try), so a user's own concurrent commands cannot keep a
   * command losing.
   */
  async #decide<A>(command: string, now: number, knownUser: string | undefined, attempt: (db: Queryable) => Promise<Attempt<A>>): Promise<{ answer: A; result?: unknown }> {
    const started = performance.now();
    const outcome = await this.#decideOnce(now, knownUser, attempt);
    if (outcome.committed) this.#tell((observer) => observer.commit?.({ command, durationMs: performance.now() - started }));
    return outcome;
  }

  async #decideOnce<A>(now: number, knownUser: string | undefined, attempt: (db: Queryable) => Promise<Attempt<A>>): Promise<{ answer: A; result?: unknown; committed?: true }> {
    let user = knownUser;
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      if (tries < OPTIMISTIC_TRIES || user === undefined) {
        const step = await attempt(this.#pool);
        if (step === 'again') continue;
        const { decision, assume } = step;
        if (decision.changes.length === 0) return { answer: decision.answer };
        user = assume.userId ?? user;
        try {
          return { answer: decision.answer, result: await this.#apply(this.#pool, decision, now, assume), committed: true };
        } catch (error) {
          if (!isConflict(error)) throw error;
          continue;
        }
      }
      const outcome = await this.#onClient(async (client) => {
        await client.query('BEGIN');
        try {
          await query(client, 'SELECT pg_advisory_xact_lock($1, hashtext($2))', [USER_LOCKS, user]);
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
      });
      if (outcome !== 'again') return outcome;
    }
    throw new EngineError('UNAVAILABLE', 'too many concurrent changes to the same data; try again');
  }

  /**
   * Applies a decision: on the pool, together with the other commands' decisions ready
   * at the same time (see {@link #flushApplies}); inside a transaction, on its own.
   */
  async #apply(db: Queryable, decision: Decision<unknown>, now: number, assume: Assumptions): Promise<unknown> {
    const changes = JSON.stringify(decision.changes);
    if (db === this.#pool) {
      return new Promise((resolve, reject) => {
        this.#applies.push({ user: assume.userId ?? '', changes, now, assume: JSON.stringify(assume), resolve, reject });
        if (this.#applyBatches < APPLY_BATCHES) this.#flushApplies();
      });
    }
    const { rows } = await query<{ result: unknown }>(db, 'SELECT usher_apply($1::jsonb, $2, $3::jsonb) AS result', [changes, now, JSON.stringify(assume)]);
    return rows[0]?.result;
  }

  /**
   * Group commit: the decisions waiting to be applied go in one statement
   * (`usher_apply_many`, migration 003), each in a subtransaction of its own,
   * committed together: one round trip and one WAL flush for the lot. At most
   * {@link APPLY_BATCHES} batches run at once; decisions that arrive meanwhile
   * wait for the next one, so the busier the engine, the larger the batches.
   * Each command is answered only after the batch's commit; a decision
   * refused in the batch (a condition that no longer holds) changed nothing
   * and is decided again, as before.
   */
  #flushApplies(): void {
    if (this.#applies.length === 0) return;
    // By user, so concurrent batches take users' locks in the same order.
    const batch = this.#applies.splice(0, APPLY_BATCH).sort((a, b) => compareText(a.user, b.user));
    this.#applyBatches++;
    query<{ results: ({ r: unknown } | { e: string; m: string })[] }>(this.#pool, 'SELECT usher_apply_many($1::jsonb[], $2::bigint[], $3::jsonb[]) AS results', [
      batch.map((item) => item.changes),
      batch.map((item) => item.now),
      batch.map((item) => item.assume),
    ])
      .then(
        ({ rows }) => {
          const results = rows[0]!.results;
          batch.forEach((item, i) => {
            const outcome = results[i]!;
            if ('r' in outcome) item.resolve(outcome.r);
            else item.reject(Object.assign(new Error(outcome.m), { code: outcome.e }));
          });
        },
        (error: unknown) => {
          for (const item of batch) item.reject(error);
        },
      )
      .finally(() => {
        this.#applyBatches--;
        this.#flushApplies();
      });
  }

  /**
   * One view read: the command's token (a CTE `tk`) and `columns`, which may
   * use `$2` (now), `$3` (waitingTtl) and `$4…` (`params`). A malformed token
   * argument finds no token: the rule then refuses it at its place among the
   * command's checks. `again` when the view must be read anew (see {@link #facts}).
   */
  async #read<R>(token: unknown, now: number, columns: string, params: unknown[], db: Queryable = this.#pool): Promise<{ facts: Facts; row: R & Partial<TokenRow> } | 'again'> {
    const valid = isTokenArg(token);
    const { rows } = await query<R & TokenRow>(db, 
      `WITH ${tokenCte('t.token = $1', 2, 3)} SELECT tk.*, ${columns} FROM (SELECT 1) AS one LEFT JOIN tk ON true`,
      [valid ? token : '', now, this.config.queueWaitingTtlMs, ...params],
    );
    const row = rows[0]!;
    const facts = await this.#facts(token, valid ? row : undefined, now);
    return facts === 'again' ? facts : { facts, row };
  }

  /** {@link #read} until it holds. */
  async #view<R>(token: unknown, now: number, columns: string, params: unknown[], db: Queryable = this.#pool): Promise<{ facts: Facts; row: R & Partial<TokenRow> }> {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const read = await this.#read<R>(token, now, columns, params, db);
      if (read !== 'again') return read;
    }
    throw new EngineError('UNAVAILABLE', 'the waiting line kept changing; try again');
  }

  async #readReservation(token: unknown, reservationId: string, now: number, db: Queryable) {
    const { facts, row } = await this.#view<{ reservation: Record<string, unknown> | null }>(
      token,
      now,
      `(SELECT row_to_json(r) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = $4) r) AS reservation`,
      [reservationId],
      db,
    );
    const reservation: ReservationRecord | undefined = row.reservation ? reservationRecord(row.reservation) : undefined;
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
      return this.#place(this.#mirror.line.size + Number(row.seq) - this.#mirror.seqEnd - Number(row.gone_below ?? 0));
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
      const facts = tries === 0 && known ? known : (await this.#view<object>(token, now, 'NULL AS nothing', [])).facts;
      const live = requireLive(facts.token, now, this.#lifecycles);
      let lastSeenAt = facts.lastSeenAt;
      if (live.status === 'waiting' && lastSeenAt < now - this.#pollSlackMs) {
        const { rows } = await query<{ last_seen_at: string }>(
      this.#pool,
          `UPDATE tokens SET last_seen_at = $2 WHERE token = $1 AND status = 'waiting' AND last_seen_at > $3 RETURNING last_seen_at`,
          [live.token, now, now - this.config.queueWaitingTtlMs],
        );
        if (rows.length === 0) continue; // admitted or abandoned meanwhile: look again
        lastSeenAt = now;
      }
      return tokenView(live, live.status === 'waiting' ? facts.placeOf(live) : NOWHERE, lastSeenAt, this.config);
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
        await this.#onClient((client) => runStep(client, now, { config: this.config, lifecycles: this.#lifecycles, real: false }));
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
            const { rows } = await query(this.#pool, `SELECT ${TICK_COLUMNS} FROM queue_ticks WHERE no > $1 ORDER BY no LIMIT 1000`, [this.#mirror.applied]);
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
        if (place.position === last.position && (place.position === null || place.estimatedWaitSeconds === last.estimatedWaitSeconds)) continue;
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
    return roomView(room, { waiting: Number(row['waiting']), active: Number(row['active']), admittedTotal });
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
      const { report } = await this.#keeper.tick(this.#clock.now(), { config: this.config, lifecycles: this.#lifecycles });
      this.#timed(started, report.admitted);
      await this.#refresh();
    } finally {
      this.#ticking = false;
    }
  }

  async #keeperSweep(): Promise<void> {
    if (this.#keeper.held) await this.#keeper.sweep(this.#clock.now(), { config: this.config, lifecycles: this.#lifecycles });
  }

  #timed(started: number, admitted: number): void {
    this.#lastTickMs = performance.now() - started;
    this.#maxTickMs = Math.max(this.#maxTickMs, this.#lastTickMs);
    const durationMs = this.#lastTickMs;
    this.#tell((observer) => observer.tick?.({ durationMs, admitted }));
  }
}
