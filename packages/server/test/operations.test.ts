import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { solvedHeader, type IssuedChallenge } from './helpers/challenge.js';
import {
  client,
  eventually,
  runServerProcess,
  startServerProcess,
  type ServerProcess,
} from './helpers/serverProcess.js';

/**
 * The operator's side of the real server (SPEC §9) over real HTTP: the environment wires what @usher/koa's tests check in depth.
 * Serial: each test starts a server process, and many at once on a small machine slow every other file's starts too.
 */

const ADMIN_TOKEN = 'an-operator-token-for-tests';
const postgres = usePostgres(test);

/** One scrape of /metrics on a connection of its own (in a cluster, each connection goes to one worker): its text. */
function scrapeOnce(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(
      `${url}/metrics`,
      { agent: false, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(text)
            : reject(new Error(`/metrics answered ${response.statusCode}`)),
        );
      },
    ).on('error', reject);
  });
}

/** The value of the first sample of `name` (whatever its labels) in Prometheus text; NaN if none. */
const sample = (text: string, name: string): number =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

async function start(t: ExecutionContext, env: Record<string, string>) {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-ops-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const server = await startServerProcess({ DATA_DIR, ...env });
  t.teardown(() => server.process.kill('SIGKILL'));
  return { server, api: client(server.url) };
}

test.serial(
  'ADMIN_TOKEN turns on /metrics and the operator routes behind the token; every request, the page included, is one access-log line with its request id',
  async (t) => {
    const { server, api } = await start(t, { ADMIN_TOKEN });
    t.true(server.logs.some((line) => /operator API and \/metrics on/.test(String(line.msg))));
    t.is((await api('GET', '/metrics')).status, 401);
    t.is((await api('GET', '/admin/room', { token: 'wrong-token-wrong-token' })).status, 401);
    const page = await fetch(`${server.url}/`, { headers: { 'X-Request-Id': 'page-load-1' } });
    t.is(page.status, 200);
    t.is(page.headers.get('x-request-id'), 'page-load-1');
    const health = await fetch(`${server.url}/health`);
    const generated = health.headers.get('x-request-id') ?? '';
    t.regex(generated, /^[0-9a-f-]{36}$/);
    await api('POST', '/queue/tokens', { body: { userId: 'ann' } });

    const metrics = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    t.is(metrics.status, 200);
    const text = await metrics.text();
    const names = new Set(parsePrometheusTextFormat(text).map((family) => family.name));
    for (const name of [
      'usher_queue_waiting',
      'usher_queue_active',
      'http_request_duration_seconds',
      'process_cpu_seconds_total',
    ])
      t.true(names.has(name), name);
    t.regex(text, /^usher_queue_active 1$/m);
    t.regex(
      text,
      /^http_request_duration_seconds_count\{route="\/",method="GET",status="200"\} 1$/m,
      'the page is counted by its path',
    );
    t.regex(
      text,
      /^http_request_duration_seconds_count\{route="\/queue\/tokens",method="POST",status="201"\} 1$/m,
    );

    const access = await eventually(async () => {
      const lines = server.logs.filter(
        (line) => typeof line.requestId === 'string' && typeof line.route === 'string',
      );
      return lines.length >= 4 ? lines : undefined;
    });
    t.like(
      access.find((line) => line.requestId === 'page-load-1'),
      { method: 'GET', route: '/', status: 200, level: 30 },
    );
    t.like(
      access.find((line) => line.requestId === generated),
      { route: '/health', status: 200 },
    );
    t.true(access.every((line) => typeof line.durationMs === 'number'));
    t.false(JSON.stringify(server.logs).includes(ADMIN_TOKEN), 'the admin token is never logged');
  },
);

test.serial(
  'without ADMIN_TOKEN /metrics and /admin/room are 404, as any unknown route',
  async (t) => {
    const { api } = await start(t, {});
    for (const path of ['/metrics', '/admin/room']) {
      const response = await api('GET', path, { token: ADMIN_TOKEN });
      t.is(response.status, 404);
      t.is(response.body.code, 'NOT_FOUND');
    }
  },
);

test.serial(
  'TOKEN_RATE_PER_MINUTE limits joining per address (429 with Retry-After); TRUST_PROXY=true reads X-Forwarded-For, without it the header is ignored',
  async (t) => {
    const direct = await start(t, { TOKEN_RATE_PER_MINUTE: '2' });
    const forwarded = (api: typeof direct.api, userId: string, address: string) =>
      api('POST', '/queue/tokens', { body: { userId }, headers: { 'x-forwarded-for': address } });
    t.is((await forwarded(direct.api, 'a1', '203.0.113.1')).status, 201);
    t.is((await forwarded(direct.api, 'a2', '203.0.113.2')).status, 201);
    const refused = await fetch(`${direct.server.url}/queue/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.3' },
      body: '{"userId":"a3"}',
    });
    t.is(refused.status, 429);
    t.regex(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    t.is(((await refused.json()) as { code: string }).code, 'RATE_LIMITED');

    const proxied = await start(t, { TOKEN_RATE_PER_MINUTE: '1', TRUST_PROXY: 'true' });
    t.is((await forwarded(proxied.api, 'b1', '203.0.113.1')).status, 201);
    t.is((await forwarded(proxied.api, 'b2', '203.0.113.1')).status, 429);
    t.is(
      (await forwarded(proxied.api, 'b3', '203.0.113.2')).status,
      201,
      'another client behind the proxy has its own allowance',
    );
  },
);

test.serial(
  'QUEUE_CHALLENGE=pow: joining needs a solved challenge from GET /queue/challenge',
  async (t) => {
    const { api } = await start(t, { QUEUE_CHALLENGE: 'pow', QUEUE_CHALLENGE_MAX_NUMBER: '5000' });
    const missing = await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
    t.is(missing.status, 400);
    t.like(missing.body, { code: 'CHALLENGE_FAILED', reason: 'missing' });
    const challenge = (await api('GET', '/queue/challenge')).body as IssuedChallenge;
    t.is(challenge.maxnumber, 5_000);
    const header = await solvedHeader(challenge);
    t.is(
      (
        await api('POST', '/queue/tokens', {
          body: { userId: 'ann' },
          headers: { 'x-challenge': header },
        })
      ).status,
      201,
    );
    t.like(
      (
        await api('POST', '/queue/tokens', {
          body: { userId: 'bob' },
          headers: { 'x-challenge': header },
        })
      ).body,
      { code: 'CHALLENGE_FAILED', reason: 'replayed' },
    );
  },
);

test.serial('a short ADMIN_TOKEN stops the start with one sentence naming it', async (t) => {
  const run = await runServerProcess({
    DATA_DIR: join(tmpdir(), 'usher-never-made'),
    ADMIN_TOKEN: 'secret',
  });
  t.is(run.code, 1);
  t.regex(
    run.stderr,
    /^usher cannot start: bad environment: ADMIN_TOKEN: must be at least 16 visible ASCII characters/,
  );
  t.notRegex(run.stderr, /secret/, 'the value is not echoed');
});

test.serial(
  'GET/PATCH /admin/room on the real server: the change is answered and read back, takes effect at the next tick (paused holds a new token back across ticks; resume admits it), and survives a restart',
  async (t) => {
    const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-ops-'));
    t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
    let server = await startServerProcess({ DATA_DIR, ADMIN_TOKEN, QUEUE_TICK_MS: '50' });
    t.teardown(() => server.process.kill('SIGKILL'));
    let api = client(server.url);
    const room = await api('GET', '/admin/room', { token: ADMIN_TOKEN });
    t.deepEqual(room.body, {
      paused: false,
      admitPerTick: 100,
      maxActive: 1_000,
      opensAt: null,
      shuffle: true,
      waiting: 0,
      active: 0,
      admittedTotal: 0,
    });

    const paused = await api('PATCH', '/admin/room', {
      token: ADMIN_TOKEN,
      body: { paused: true, admitPerTick: 3 },
    });
    t.is(paused.status, 200);
    t.deepEqual(paused.body, { ...room.body, paused: true, admitPerTick: 3 });
    t.deepEqual(
      (await api('GET', '/admin/room', { token: ADMIN_TOKEN })).body,
      paused.body,
      'GET reads the change back',
    );
    t.true(
      server.logs.some(
        (line) =>
          line.audit === 'room' &&
          line.msg === 'room changed by the admin token: paused false → true; admitPerTick 100 → 3',
      ),
    );

    // Paused: a new token waits though the room is empty, and ticks pass without admitting it.
    const ann = await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
    t.like(ann.body, { status: 'waiting', position: 1 });
    const ticks = async () =>
      sample(await scrapeOnce(server.url), 'usher_tick_duration_seconds_count');
    const from = await ticks();
    await eventually(
      async () => ((await ticks()) >= from + 3 ? true : undefined),
      20_000,
      'three ticks',
    );
    t.like(
      (await api('GET', '/queue/tokens/current', { token: ann.body.token })).body,
      { status: 'waiting', position: 1 },
      'still waiting after three ticks',
    );

    // Resumed: the next tick admits.
    t.like(
      (await api('PATCH', '/admin/room', { token: ADMIN_TOKEN, body: { paused: false } })).body,
      { paused: false, waiting: 1 },
    );
    await eventually(
      async () =>
        (await api('GET', '/queue/tokens/current', { token: ann.body.token })).body.status ===
        'active'
          ? true
          : undefined,
      20_000,
      'ann admitted',
    );
    t.like((await api('GET', '/admin/room', { token: ADMIN_TOKEN })).body, {
      paused: false,
      admitPerTick: 3,
      waiting: 0,
      active: 1,
      admittedTotal: 1,
    });

    // Durable: a restart on the same folder keeps the settings and the count.
    const port = new URL(server.url).port;
    server.process.kill('SIGTERM');
    t.is((await server.exited).code, 0);
    server = await startServerProcess({ DATA_DIR, PORT: port, ADMIN_TOKEN, QUEUE_TICK_MS: '50' });
    api = client(server.url);
    t.like((await api('GET', '/admin/room', { token: ADMIN_TOKEN })).body, {
      paused: false,
      admitPerTick: 3,
      maxActive: 1_000,
      active: 1,
      admittedTotal: 1,
    });
  },
);

test.serial(
  "with DATABASE_URL: a PATCH through one gateway is read by another at once; pause holds a new token back across keeper ticks, resume admits it; each scrape is one worker's, labelled, with the queue gauges from the database",
  async (t) => {
    const url = await createDatabase(postgres());
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    t.teardown(() => db.end());
    const env = {
      DATABASE_URL: url,
      ADMIN_TOKEN,
      QUEUE_TICK_MS: '100',
      LOG_LEVEL: 'info',
      MAX_CONNECTIONS_PER_ADDRESS: '0',
      TOKEN_RATE_PER_MINUTE: '0',
    };
    const gateway = async (workers: string): Promise<ServerProcess> => {
      const server = await startServerProcess({ ...env, WORKERS: workers });
      t.teardown(async () => {
        if (server.process.exitCode === null && server.process.signalCode === null)
          server.process.kill('SIGKILL');
        await server.exited;
      });
      return server;
    };
    // Two gateways on one database, as on two machines: one with two workers, one with one.
    const [a, b] = await Promise.all([gateway('2'), gateway('1')]);
    const [apiA, apiB] = [client(a.url), client(b.url)];
    const defaults = {
      paused: false,
      admitPerTick: 100,
      maxActive: 1_000,
      opensAt: null,
      shuffle: true,
      waiting: 0,
      active: 0,
      admittedTotal: 0,
    };
    t.deepEqual((await apiA('GET', '/admin/room', { token: ADMIN_TOKEN })).body, defaults);
    t.deepEqual((await apiB('GET', '/admin/room', { token: ADMIN_TOKEN })).body, defaults);

    const changed = await apiA('PATCH', '/admin/room', {
      token: ADMIN_TOKEN,
      body: { paused: true, maxActive: 40 },
    });
    t.deepEqual(changed.body, { ...defaults, paused: true, maxActive: 40 });
    t.deepEqual(
      (await apiB('GET', '/admin/room', { token: ADMIN_TOKEN })).body,
      changed.body,
      'the other gateway reads the change at once',
    );

    // Paused: a token issued through B waits, and keeper ticks (whichever process keeps) pass without admitting it.
    const ann = await apiB('POST', '/queue/tokens', { body: { userId: 'ann' } });
    t.like(ann.body, { status: 'waiting' });
    const ticks = async () =>
      Number(
        (
          await db.query<{ no: string }>(
            'SELECT coalesce(max(no), 0) AS no FROM queue_ticks WHERE real',
          )
        ).rows[0]!.no,
      );
    const from = await ticks();
    await eventually(
      async () => ((await ticks()) >= from + 3 ? true : undefined),
      20_000,
      'three keeper ticks',
    );
    t.like(
      (await apiA('GET', '/queue/tokens/current', { token: ann.body.token })).body,
      { status: 'waiting', position: 1 },
      'still waiting after three keeper ticks',
    );

    // Resumed through B: admitted at a next tick, seen through A.
    t.like(
      (await apiB('PATCH', '/admin/room', { token: ADMIN_TOKEN, body: { paused: false } })).body,
      { paused: false, maxActive: 40 },
    );
    t.like((await apiA('GET', '/admin/room', { token: ADMIN_TOKEN })).body, { paused: false });
    await eventually(
      async () =>
        (await apiA('GET', '/queue/tokens/current', { token: ann.body.token })).body.status ===
        'active'
          ? true
          : undefined,
      20_000,
      'ann admitted',
    );

    // /metrics on A: each scrape (a connection of its own) is answered by one worker, which labels its metrics; the
    // queue gauges and the admitted count read the database, so every worker reports the same whole values.
    const workers = new Set<string>();
    await eventually(
      async () => {
        const text = await scrapeOnce(a.url);
        const labels = new Set([...text.matchAll(/worker="(\d+)"/g)].map((match) => match[1]!));
        t.is(labels.size, 1, 'one worker answers a scrape');
        workers.add([...labels][0]!);
        t.is(sample(text, 'usher_queue_active'), 1);
        t.is(sample(text, 'usher_queue_waiting'), 0);
        t.is(sample(text, 'usher_admitted_total'), 1);
        return workers.size === 2 ? true : undefined;
      },
      20_000,
      'both workers to answer a scrape',
    );
    t.deepEqual([...workers].sort(), ['1', '2']);
    t.false(
      /worker="/.test(await scrapeOnce(b.url)),
      'a single process (WORKERS=1) has no worker label',
    );
  },
);
