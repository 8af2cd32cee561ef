import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UsherEngine } from '@usher/engine';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { accessLineWriter, type AccessLineWriter } from './accessLine.js';

/** The request id header: echoed when the client's is sane, generated otherwise, always on the answer. */
export const REQUEST_ID_HEADER = 'X-Request-Id';
/** A client's request id is kept when it is 1 to 128 of these (UUIDs, trace ids); anything else is replaced. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:=+/@-]{1,128}$/;

/** The buckets of `http_request_duration_seconds`, in seconds. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Their names in prom-client's series (`bucketValues`), made once. */
const BUCKET_KEYS = DURATION_BUCKETS.map(String);

/** One label set of the duration histogram, and the series prom-client keeps for it once found. */
interface Series {
  readonly labels: { route: string; method: string; status: string };
  map?: object;
  entry?: { sum: number; count: number; bucketValues: Record<string, number> } | undefined;
}

/**
 * `histogram.observe(series.labels, seconds)`, for a series seen before without prom-client's work per
 * call (a closure, the labels checked, their hash built and looked up, the bucket's key made from a
 * number): its series is updated as `observe` would. The first observation of a label set goes through
 * `observe`, which makes the series; it is then found by its labels object and kept, as long as the
 * histogram keeps the same map (a `reset` makes a new one: back to `observe`).
 */
function observeDuration(
  histogram: Histogram<'route' | 'method' | 'status'>,
  series: Series,
  seconds: number,
): void {
  const map = (histogram as unknown as { hashMap?: Record<string, unknown> }).hashMap;
  const entry = series.entry;
  if (entry !== undefined && series.map === map) {
    entry.sum += seconds;
    entry.count += 1;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]!) {
        entry.bucketValues[BUCKET_KEYS[i]!]! += 1;
        break;
      }
    }
    return;
  }
  histogram.observe(series.labels, seconds);
  if (map === undefined) return;
  series.map = map;
  series.entry = Object.values(map).find(
    (value) => (value as { labels?: unknown }).labels === series.labels,
  ) as Series['entry'];
}

/** Requests a telemetry middleware has taken: each is counted and logged once, by the first one it meets. */
const seen = new WeakSet<IncomingMessage>();

export interface TelemetryOptions {
  /** Where the access log goes (one line per request); none: no access log. */
  readonly logger?: Logger | undefined;
  /** The registry the metrics are in. Default: a new one (never prom-client's global registry). */
  readonly registry?: Registry;
  /**
   * Labels put on every metric, e.g. `{ worker: '2' }` in a cluster worker,
   * where a scrape reaches one worker of several sharing the port.
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The app's request ids, access log and Prometheus metrics (SPEC §9). One per
 * app: the metrics live in its own {@link Registry}, so several apps can live
 * in one process. A host app that serves more than the API (a page, docs) can
 * run {@link middleware} itself, in front of the API's app, and pass the same
 * instance to `createApp`: each request is then counted and logged once, by
 * the outer one. Other middleware may name a request's route for the metrics
 * and the log with `ctx.state.route` (a fixed set of names: label cardinality).
 *
 * @example
 * ```ts
 * const telemetry = new Telemetry({ logger: pino() });
 * host.use(telemetry.middleware());
 * host.use(mount(createApp(engine, { telemetry, adminToken })));
 * ```
 */
export class Telemetry {
  readonly registry: Registry;
  readonly logger: Logger | undefined;
  readonly #duration: Histogram<'route' | 'method' | 'status'>;
  /** Requests being answered: a plain count, read into `http_requests_in_flight` at each scrape. */
  #inFlight = 0;
  readonly #accessLine: AccessLineWriter | undefined;
  readonly #rateLimited: Counter;
  readonly #limiterErrors: Counter;
  readonly #challengeFailed: Counter<'reason'>;
  #processMetrics = false;
  readonly #limiterWarning = onceEvery(10_000);
  readonly #hopWarning = onceEvery(60_000);
  #unparsedHops = 0;

  constructor(options: TelemetryOptions = {}) {
    this.registry = options.registry ?? new Registry();
    if (options.labels !== undefined) this.registry.setDefaultLabels({ ...options.labels });
    this.logger = options.logger;
    const registers = [this.registry];
    this.#duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route template, method and status (an event stream: its whole life)',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    const telemetry = this;
    new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests being answered now (open event streams included)',
      registers,
      // Read when scraped: a gauge's inc and dec per request cost a label hash each.
      collect() {
        this.set(telemetry.#inFlight);
      },
    });
    this.#accessLine = options.logger === undefined ? undefined : accessLineWriter(options.logger);
    this.#rateLimited = new Counter({
      name: 'usher_rate_limited_total',
      help: 'POST /queue/tokens refused 429 RATE_LIMITED',
      registers,
    });
    this.#limiterErrors = new Counter({
      name: 'usher_rate_limiter_errors_total',
      help: 'Token requests let through because the rate limiter could not count them (its store failed)',
      registers,
    });
    this.#challengeFailed = new Counter({
      name: 'usher_challenge_failed_total',
      help: 'POST /queue/tokens refused 400 CHALLENGE_FAILED, by reason (missing, malformed, expired, wrong, replayed)',
      labelNames: ['reason'] as const,
      registers,
    });
  }

  /** Process metrics (CPU, memory, event loop lag, GC, handles): on once an app serves `/metrics`. */
  enableProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * The engine's metrics: the room's counts read at each scrape, and its ticks
   * and commits as they happen (`engine.observe`). Once per telemetry.
   */
  watchEngine(engine: UsherEngine, streams: { readonly size: number }): void {
    const registers = [this.registry];
    // Read at scrape time; the room when the engine has it, else its stats. A failed engine keeps the last values.
    // Each room's figures, labelled `room` (SPEC §12), `default` first.
    type Figures = {
      readonly room: string;
      readonly waiting: number;
      readonly active: number;
      readonly admittedTotal: number | undefined;
    };
    const counts = async (): Promise<readonly Figures[] | undefined> => {
      const rooms = await engine.rooms().catch(() => undefined);
      if (rooms !== undefined)
        return rooms.map((room) => ({
          room: room.id ?? 'default',
          waiting: room.waiting,
          active: room.active,
          admittedTotal: room.admittedTotal,
        }));
      const stats = await engine.stats().catch(() => undefined);
      return stats === undefined
        ? undefined
        : [
            {
              room: 'default',
              waiting: stats.waitingTokens,
              active: stats.activeTokens,
              admittedTotal: undefined,
            },
          ];
    };
    const sum = (rooms: readonly Figures[], figure: 'waiting' | 'active' | 'admittedTotal') =>
      rooms.reduce((total, room) => total + (room[figure] ?? 0), 0);
    let scrape: Promise<Awaited<ReturnType<typeof counts>>> | undefined;
    // The three metrics below are collected together: one engine read per scrape.
    const once = () =>
      (scrape ??= counts().finally(() => setImmediate(() => (scrape = undefined))));
    new Gauge({
      name: 'usher_queue_waiting',
      help: 'Tokens waiting in line (every room; by room: usher_room_waiting)',
      registers,
      async collect() {
        const now = await once();
        if (now !== undefined) this.set(sum(now, 'waiting'));
      },
    });
    new Gauge({
      name: 'usher_queue_active',
      help: 'Active tokens (people choosing seats or paying; every room; by room: usher_room_active)',
      registers,
      async collect() {
        const now = await once();
        if (now !== undefined) this.set(sum(now, 'active'));
      },
    });
    new Counter({
      name: 'usher_admitted_total',
      help: 'Tokens ever admitted from the line (durable: it survives restarts; every room; by room: usher_room_admitted_total)',
      registers,
      async collect() {
        const now = await once();
        if (now === undefined || now.some((figures) => figures.admittedTotal === undefined)) return;
        this.reset();
        this.inc(sum(now, 'admittedTotal'));
      },
    });
    // The same figures of each room (SPEC §12), labelled `room`: `default` and each concert's own.
    new Gauge({
      name: 'usher_room_waiting',
      help: 'Tokens waiting in line, by room',
      labelNames: ['room'],
      registers,
      async collect() {
        const now = await once();
        for (const figures of now ?? []) this.set({ room: figures.room }, figures.waiting);
      },
    });
    new Gauge({
      name: 'usher_room_active',
      help: 'Active tokens, by room',
      labelNames: ['room'],
      registers,
      async collect() {
        const now = await once();
        for (const figures of now ?? []) this.set({ room: figures.room }, figures.active);
      },
    });
    new Counter({
      name: 'usher_room_admitted_total',
      help: 'Tokens ever admitted from the line, by room (durable)',
      labelNames: ['room'],
      registers,
      async collect() {
        const now = await once();
        if (now === undefined || now.some((figures) => figures.admittedTotal === undefined)) return;
        this.reset();
        for (const figures of now) this.inc({ room: figures.room }, figures.admittedTotal!);
      },
    });
    new Gauge({
      name: 'usher_engine_up',
      help: '1 while the engine takes commands; 0 once it failed (restart the process) or while it closes',
      registers,
      collect() {
        this.set(engine.health.status === 'ok' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'usher_event_streams_open',
      help: 'Open event streams (GET /queue/tokens/current/events)',
      registers,
      collect() {
        this.set(streams.size);
      },
    });
    const tick = new Histogram({
      name: 'usher_tick_duration_seconds',
      help: 'Admission ticks run by this process (the keeper, in PostgreSQL mode)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    const commit = new Histogram({
      name: 'usher_commit_duration_seconds',
      help: 'From a command to its durable answer, by command',
      labelNames: ['command'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    engine.observe({
      tick: ({ durationMs }) => tick.observe(durationMs / 1_000),
      commit: ({ command, durationMs }) => commit.observe({ command }, durationMs / 1_000),
      fault: ({ source, error }) =>
        this.logger?.error({ err: error, source }, `the engine's ${source} failed; it goes on`),
    });
  }

  /** A token request refused for its rate. */
  rateLimited(): void {
    this.#rateLimited.inc();
  }

  /** A token request let through because the limiter's store failed: counted; logged at most every 10 s. */
  limiterFailed(error: unknown, limiter: string): void {
    this.#limiterErrors.inc();
    if (!this.#limiterWarning()) return;
    this.logger?.warn(
      { err: error, limiter },
      'the token rate limiter failed: token requests are let through uncounted until it works (usher_rate_limiter_errors_total)',
    );
  }

  /**
   * A trusted proxy's `X-Forwarded-For` hop that is no address: the request
   * counted as the connection's address. Logged at most once a minute, with how
   * many there were since the last line.
   */
  unparsedForwardedFor(hop: string): void {
    this.#unparsedHops++;
    if (!this.#hopWarning()) return;
    this.logger?.warn(
      { hop: hop.slice(0, 100), since: this.#unparsedHops },
      'an X-Forwarded-For hop is not an address: counted as the connection address (is the proxy writing the client address last?)',
    );
    this.#unparsedHops = 0;
  }

  challengeFailed(reason: 'missing' | 'malformed' | 'expired' | 'wrong' | 'replayed'): void {
    this.#challengeFailed.inc({ reason });
  }

  /**
   * Request id (`X-Request-Id`, on `ctx.state.requestId` and the answer), one
   * access-log line when the answer ends, and the HTTP metrics. Put it first:
   * it sees the final status of everything after it.
   */
  middleware(): Middleware {
    const duration = this.#duration;
    const accessLine = this.#accessLine;
    // The histogram's labels for each route, method and status seen: one object each, not one per request.
    const labels = new Map<string, Series>();
    return (ctx, next) => {
      if (seen.has(ctx.req)) return next();
      seen.add(ctx.req);
      const started = process.hrtime.bigint();
      const id = requestId(ctx.req, ctx.res);
      ctx.state.requestId = id;
      this.#inFlight++;
      // When the answer ends (or the client goes away): the metrics, and the access-log line. A response
      // closes once, so a plain listener does (no `once` wrapper).
      ctx.res.on('close', () => {
        this.#inFlight--;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = routeOf(ctx);
        const status = ctx.res.statusCode;
        const method = ctx.method;
        const key = `${status} ${method} ${route}`;
        let set = labels.get(key);
        if (set === undefined) {
          set = { labels: { route, method, status: String(status) } };
          // Bounded like the metric's own label sets (route templates, methods, statuses): a safety cap only.
          if (labels.size < 10_000) labels.set(key, set);
        }
        if (set.map === undefined && !labels.has(key)) duration.observe(set.labels, seconds);
        else observeDuration(duration, set, seconds);
        if (accessLine !== undefined) accessLine(id, ctx.req, route, status, seconds);
      });
      return next();
    };
  }
}

/** A gate that opens at most once every `ms` (for warnings that would otherwise come once per request). */
function onceEvery(ms: number): () => boolean {
  let last: number | undefined;
  return () => {
    const now = performance.now();
    if (last !== undefined && now - last < ms) return false;
    last = now;
    return true;
  };
}

/** The route's template (`/reservations/:reservationId`), a name other middleware gave it, or `unmatched`: never the raw path. */
function routeOf(ctx: Context): string {
  const named = ctx.state.route;
  if (typeof named === 'string') return named;
  const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : 'unmatched';
}

/** The client's `X-Request-Id` when sane, else a new UUID; set on the answer. */
function requestId(request: IncomingMessage, response: ServerResponse): string {
  const given = request.headers['x-request-id'];
  const id = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
  response.setHeader(REQUEST_ID_HEADER, id);
  return id;
}
