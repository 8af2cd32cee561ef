import test, { type ExecutionContext } from 'ava';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { createApp, Telemetry } from '@usher/koa';
import request from 'supertest';
import { activeToken, assertProblem, bearer, startApi, until } from './helpers/api.js';
import { capturedLogger } from './helpers/logs.js';

// The engine's metrics (room counts, ticks, commits) come from the real engine (and PostgreSQL's: test/postgres/telemetry.test.ts).

const ADMIN = 'operator-secret-0123456789';

/** A scrape: its metric families as the parser reads them, and every sample line (the parser folds a labelled histogram's series into one). */
interface Scrape {
  readonly families: Map<string, ParsedFamily>;
  readonly samples: readonly {
    readonly name: string;
    readonly labels: Record<string, string>;
    readonly value: number;
  }[];
}

/** Scrapes /metrics and parses it as Prometheus text (the parser throws on a line that is not). */
async function scrape(t: ExecutionContext, http: ReturnType<typeof request>): Promise<Scrape> {
  const response = await http.get('/metrics').set(bearer(ADMIN));
  t.is(response.status, 200);
  t.regex(response.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
  const families = new Map(
    parsePrometheusTextFormat(response.text).map((family) => [family.name, family]),
  );
  const samples = response.text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [, name, labels = '', value] = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
      return {
        name: name!,
        labels: Object.fromEntries(
          [...labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, label]) => [
            key!,
            label!,
          ]),
        ),
        value: Number(value),
      };
    });
  return { families, samples };
}

/** The value of the first sample of `name` with these labels (NaN if none). */
const value = (scraped: Scrape, name: string, labels: Record<string, string> = {}): number =>
  scraped.samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, label]) => sample.labels[key] === label),
  )?.value ?? Number.NaN;

/** The sum of `name`'s samples with these labels (0 if none). */
const total = (scraped: Scrape, name: string, labels: Record<string, string> = {}): number =>
  scraped.samples
    .filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([key, label]) => sample.labels[key] === label),
    )
    .reduce((sum, sample) => sum + sample.value, 0);

test('/metrics is Prometheus text with the metrics SPEC §9 names and what on-call wants, and it moves with traffic', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 1 }, app: { adminToken: ADMIN } });
  const first = await scrape(t, api.http);
  for (const name of [
    'usher_queue_waiting',
    'usher_queue_active',
    'usher_admitted_total',
    'usher_tick_duration_seconds',
    'usher_commit_duration_seconds',
    'http_request_duration_seconds',
    'http_requests_in_flight',
    'usher_event_streams_open',
    'usher_rate_limited_total',
    'usher_rate_limiter_errors_total',
    'usher_challenge_failed_total',
    'usher_engine_up',
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
  ]) {
    t.true(first.families.has(name), name);
  }
  t.is(first.families.get('usher_admitted_total')!.type, 'COUNTER');
  t.is(first.families.get('http_request_duration_seconds')!.type, 'HISTOGRAM');
  t.is(first.families.get('usher_tick_duration_seconds')!.type, 'HISTOGRAM');
  t.is(value(first, 'usher_engine_up'), 1);
  t.is(value(first, 'usher_queue_waiting'), 0);
  t.is(value(first, 'usher_tick_duration_seconds_count'), 0, 'no tick yet');
  t.is(total(first, 'usher_commit_duration_seconds_count'), 0, 'no command yet');

  const ann = await activeToken(api, 'ann');
  await api.http.post('/queue/tokens').send({ userId: 'bob' });
  await api.http.post('/queue/tokens').send({ userId: 'cat' });
  for (let i = 0; i < 3; i++) await api.http.get('/concerts/c1/schedules').set(bearer(ann));
  await api.http.get('/concerts/nope/schedules').set(bearer(ann));
  await api.http.get('/no/such/path');
  await api.engine.tick();
  api.clock.increment(1_000);
  await api.engine.tick();

  const second = await scrape(t, api.http);
  t.is(value(second, 'usher_queue_waiting'), 2);
  t.is(value(second, 'usher_queue_active'), 1);
  t.is(value(second, 'usher_admitted_total'), 1);
  const count = (route: string, status: string) =>
    total(second, 'http_request_duration_seconds_count', { route, method: 'GET', status });
  t.is(count('/concerts/:concertId/schedules', '200'), 3, 'by route template, not by raw path');
  t.is(count('/concerts/:concertId/schedules', '404'), 1);
  t.is(count('unmatched', '404'), 1, 'unknown paths share one label');
  t.false(
    second.samples.some((sample) => /c1|nope/.test(sample.labels.route ?? '')),
    'no raw ids in labels',
  );
  t.is(count('/metrics', '200'), 1, 'the first scrape is counted in the second');
  t.is(
    value(second, 'http_request_duration_seconds_bucket', {
      route: '/concerts/:concertId/schedules',
      status: '200',
      le: '+Inf',
    }),
    3,
  );
  // The first of a label set is observed by prom-client, the next ones update its series in place: same buckets.
  t.is(
    value(second, 'http_request_duration_seconds_bucket', {
      route: '/concerts/:concertId/schedules',
      status: '200',
      le: '10',
    }),
    3,
    'each in its buckets',
  );
  t.true(
    value(second, 'http_request_duration_seconds_sum', {
      route: '/concerts/:concertId/schedules',
      status: '200',
    }) > 0,
  );
  // The engine's own ticks and commits: two ticks run, three tokens issued (reads and refusals commit nothing).
  t.is(value(second, 'usher_tick_duration_seconds_count'), 2, 'each tick the engine ran');
  t.is(value(second, 'usher_tick_duration_seconds_bucket', { le: '+Inf' }), 2);
  t.true(value(second, 'usher_tick_duration_seconds_sum') > 0);
  t.is(
    value(second, 'usher_commit_duration_seconds_count', { command: 'issueToken' }),
    3,
    'each token issued, once durable',
  );
  t.true(value(second, 'usher_commit_duration_seconds_sum', { command: 'issueToken' }) > 0);
  t.deepEqual(
    [
      ...new Set(
        second.samples
          .filter((sample) => sample.name === 'usher_commit_duration_seconds_count')
          .map((sample) => sample.labels.command),
      ),
    ],
    ['issueToken'],
    'the refused and read-only requests committed nothing',
  );
});

test('open event streams and in-flight requests are gauges', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 1 }, app: { adminToken: ADMIN } });
  await activeToken(api, 'ann');
  const bob = (await api.http.post('/queue/tokens').send({ userId: 'bob' })).body.token as string;
  const server = api.app.listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  const controller = new AbortController();
  const stream = await fetch(
    `http://127.0.0.1:${port}/queue/tokens/current/events?access_token=${bob}`,
    { signal: controller.signal },
  );
  t.is(stream.status, 200);
  const open = await scrape(t, request(server));
  t.is(value(open, 'usher_event_streams_open'), 1);
  t.is(value(open, 'http_requests_in_flight'), 2, 'the stream and this scrape');
  controller.abort();
  await until(
    async () => value(await scrape(t, request(server)), 'usher_event_streams_open') === 0,
  );
  t.pass();
});

test('X-Request-Id: a sane one is echoed, none or an insane one is replaced by a UUID, on answers and refusals alike', async (t) => {
  const api = await startApi();
  t.is(
    (await api.http.get('/health').set('X-Request-Id', 'abc-123_x.y:z')).headers['x-request-id'],
    'abc-123_x.y:z',
  );
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  t.regex((await api.http.get('/health')).headers['x-request-id'] ?? '', uuid);
  for (const insane of ['has space', 'x'.repeat(129), 'semi;colon', 'ünïcode', '<script>']) {
    t.regex(
      (await api.http.get('/health').set('X-Request-Id', insane)).headers['x-request-id'] ?? '',
      uuid,
      insane,
    );
  }
  const refused = await api.http.get('/concerts').set('X-Request-Id', 'req-refused');
  assertProblem(t, refused, 'TOKEN_MISSING');
  t.is(refused.headers['x-request-id'], 'req-refused');
  const a = (await api.http.get('/health')).headers['x-request-id'];
  const b = (await api.http.get('/health')).headers['x-request-id'];
  t.not(a, b);
});

test('the access log: one line per request with its request id, method, route template, path without the query, status and duration; no headers, no tokens', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({ app: { logger } });
  const ann = await activeToken(api, 'ann');
  lines.length = 0;
  await api.http.get('/concerts/c1/schedules').set(bearer(ann)).set('X-Request-Id', 'trace-1');
  await api.http.get('/reservations/r-404').set(bearer(ann)).set('X-Request-Id', 'trace-2');
  await api.http
    .get('/queue/tokens/current?access_token=secret-in-query')
    .set('X-Request-Id', 'trace-3');
  await until(async () => lines.length >= 3);
  t.is(lines.length, 3, 'one line per request');
  t.like(lines[0], {
    level: 30,
    requestId: 'trace-1',
    method: 'GET',
    route: '/concerts/:concertId/schedules',
    path: '/concerts/c1/schedules',
    status: 200,
    msg: 'GET /concerts/:concertId/schedules 200',
  });
  t.true(Number.isInteger(lines[0]!.durationMs) && lines[0]!.durationMs >= 0);
  t.like(lines[1], { requestId: 'trace-2', route: '/reservations/:reservationId', status: 404 });
  t.like(lines[2], { requestId: 'trace-3', path: '/queue/tokens/current', status: 401 });
  const text = JSON.stringify(lines);
  t.false(text.includes(ann), 'no queue token in the log');
  t.false(text.includes('secret-in-query'), 'no query string');
  t.false(text.includes('authorization'), 'no headers');
});

test('the access line is byte for byte what pino writes for the same fields, whatever the logger settings', async (t) => {
  const Koa = (await import('koa')).default;
  const { pino } = await import('pino');
  // Loggers the line is put together for (the server's kind: bindings, a fixed time) and loggers it is
  // left to pino for (a mixin, redaction, a log formatter, a message hook): the same bytes either way.
  const settings: Record<string, object> = {
    plain: {},
    'base and time': { base: { service: 'usher', pid: 7 }, timestamp: () => ',"time":1' },
    'message key': { messageKey: 'message', timestamp: () => ',"time":"2026-12-07"' },
    mixin: { mixin: () => ({ extra: 1 }) },
    redaction: { redact: ['path'] },
    'log formatter': { formatters: { log: (fields: object) => ({ ...fields, formatted: true }) } },
    'message hook': {
      hooks: {
        logMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void) {
          method.apply(this, args);
        },
      },
    },
  };
  for (const [name, options] of Object.entries(settings)) {
    const written: string[] = [];
    const root = pino(
      { level: 'info', timestamp: () => ',"time":1', ...options },
      { write: (line: string) => void written.push(line) },
    );
    for (const logger of [root, root.child({ worker: 2, note: 'a "quoted" \\ one' })]) {
      written.length = 0;
      const telemetry = new Telemetry({ logger });
      const host = new Koa();
      host.use(telemetry.middleware());
      host.use((ctx) => {
        ctx.state.route = ctx.path.startsWith('/fail') ? '/fail' : 'a "route" \\ named é ✓';
        ctx.status = ctx.path === '/fail/500' ? 500 : ctx.path === '/fail/503' ? 503 : 200;
        ctx.body = 'x';
      });
      const http = request(host.callback());
      await http.get('/plain?token=secret').set('X-Request-Id', 'trace-1');
      await http.get('/quote%22d/%5C?x=1');
      await http.get('/fail/500');
      await http.get('/fail/503');
      await until(async () => written.length >= 4);
      const lines = [...written];
      t.is(lines.length, 4, `${name}: one line per request`);
      t.false(lines.join('').includes('secret'), `${name}: no query string`);
      for (const line of lines) {
        const fields = JSON.parse(line) as Record<string, any>;
        written.length = 0;
        const level = fields.status === 500 ? 'error' : fields.status >= 500 ? 'warn' : 'info';
        const message = `${fields.method} ${fields.route} ${fields.status}`;
        logger[level](
          {
            requestId: fields.requestId,
            method: fields.method,
            route: fields.route,
            path: fields.path ?? '/plain',
            status: fields.status,
            durationMs: fields.durationMs,
          },
          message,
        );
        t.is(line, written[0]!, `${name}: ${message}`);
      }
    }
  }
});

test('a host app that runs the telemetry middleware itself, in front of the API, logs and counts each request once', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi();
  const telemetry = new Telemetry({ logger });
  const app = createApp(api.engine, { telemetry, adminToken: ADMIN });
  const Koa = (await import('koa')).default;
  const host = new Koa();
  host.use(telemetry.middleware());
  host.use(async (ctx, next) => {
    if (ctx.path !== '/page') return next();
    ctx.state.route = '/page';
    ctx.body = 'a page';
  });
  // The API's middleware run on the host's context, as koa-mount runs them.
  host.use((ctx, next) =>
    app.middleware.reduceRight<() => Promise<void>>(
      (downstream, middleware) => () => Promise.resolve(middleware(ctx, downstream)),
      next,
    )(),
  );
  const http = request(host.callback());
  await http.get('/page').set('X-Request-Id', 'page-1');
  await http.get('/health').set('X-Request-Id', 'api-1');
  await until(async () => lines.length >= 2);
  t.deepEqual(
    lines.map((line) => [line.requestId, line.route]),
    [
      ['page-1', '/page'],
      ['api-1', '/health'],
    ],
  );
  const scraped = await scrape(t, http);
  t.is(total(scraped, 'http_request_duration_seconds_count', { route: '/health' }), 1);
  t.is(total(scraped, 'http_request_duration_seconds_count', { route: '/page' }), 1);
});

test('two apps in one process keep their metrics apart (a registry each)', async (t) => {
  const one = await startApi({ app: { adminToken: ADMIN } });
  const two = await startApi({ app: { adminToken: ADMIN } });
  await one.http.post('/queue/tokens').send({ userId: 'ann' });
  t.is(
    total(await scrape(t, one.http), 'http_request_duration_seconds_count', {
      route: '/queue/tokens',
    }),
    1,
  );
  t.is(
    total(await scrape(t, two.http), 'http_request_duration_seconds_count', {
      route: '/queue/tokens',
    }),
    0,
  );
});

test("labels given to the telemetry (a cluster worker's id) are on every metric, the engine's and the process's too", async (t) => {
  const api = await startApi();
  const app = createApp(api.engine, {
    telemetry: new Telemetry({ labels: { worker: '3' } }),
    adminToken: ADMIN,
  });
  const http = request(app.callback());
  await http.post('/queue/tokens').send({ userId: 'ann' });
  const scraped = await scrape(t, http);
  for (const name of [
    'usher_queue_waiting',
    'usher_admitted_total',
    'http_request_duration_seconds_count',
    'process_cpu_seconds_total',
  ]) {
    t.true(
      scraped.samples.some((sample) => sample.name === name),
      name,
    );
  }
  t.deepEqual(
    scraped.samples.filter((sample) => sample.labels.worker !== '3'),
    [],
    'every sample says which worker',
  );
});
