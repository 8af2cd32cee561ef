import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import request, { type Response } from 'supertest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import {
  createEngine,
  MemoryStore,
  type CatalogInput,
  type EngineConfig,
  type StoreContents,
  type UsherEngine,
} from '@usher/engine';
import { createApp, problemTable, schemas, type AppOptions, type ProblemCode } from '@usher/koa';
import { createPostgresEngine, readContents } from '@usher/postgres';
import { createDatabase, startPostgres, type PostgresServer } from '@usher/testkit';

/**
 * The engine under the app: the embedded one (memory store) unless
 * `USHER_TEST_ENGINE` says otherwise, which the files in `test/postgres/`
 * and `test/cluster/` set before importing a test file, so the same HTTP
 * tests run again:
 * - `postgres`: the app over the PostgreSQL engine (a real server of their
 *   own, a database per test), still on the simulated clock;
 * - `cluster`: the real server (`@usher/server`) as a child process with
 *   `WORKERS=2` over that database, driven over HTTP on 127.0.0.1 on the wall
 *   clock (its keeper ticks every 100 ms). Only tests that do not move the
 *   clock can run so.
 */
const target = process.env['USHER_TEST_ENGINE'] ?? 'embedded';
const onPostgres = target === 'postgres' || target === 'cluster';
const servers: ChildProcess[] = [];
let postgres: Promise<PostgresServer> | undefined;
const opened: UsherEngine[] = [];
if (onPostgres) {
  test.after.always(async () => {
    await Promise.all(
      servers.map(async (server) => {
        server.kill('SIGTERM');
        if (server.exitCode === null) await once(server, 'exit');
      }),
    );
    await Promise.all(opened.map((engine) => engine.close().catch(() => undefined)));
    await (await postgres)?.remove();
  });
}

export const START = Date.UTC(2026, 10, 24);

export const catalog: CatalogInput = {
  concerts: [
    { id: 'c1', title: 'Spring Concert', artist: 'IU' },
    { id: 'c2', title: 'Autumn Concert' },
  ],
  schedules: [
    {
      id: 's1',
      concertId: 'c1',
      startsAt: '2027-05-01T19:00:00+09:00',
      totalSeats: 10,
      price: 1_000,
    },
    {
      id: 's2',
      concertId: 'c1',
      startsAt: '2027-04-30T19:00:00+09:00',
      totalSeats: 5,
      price: 3_000,
    },
    { id: 's3', concertId: 'c2', startsAt: '2027-10-01T19:00:00+09:00', totalSeats: 1, price: 500 },
  ],
};

export interface Api {
  readonly app: ReturnType<typeof createApp>;
  readonly engine: UsherEngine;
  readonly clock: SimulatedClock;
  /** What the engine holds durably now (the store's contents, or the database's). */
  readonly contents: () => Promise<StoreContents>;
  readonly http: ReturnType<typeof request>;
  /** Unexpected errors the app emitted. */
  readonly faults: unknown[];
}

/** The real Koa app over an engine on a simulated clock, driven through `app.callback()` (no port). */
export async function startApi(
  options: { config?: Partial<EngineConfig>; app?: AppOptions } = {},
): Promise<Api> {
  const clock = new SimulatedClock();
  clock.set(START);
  const config = { queueTickMs: 3_600_000, holdSweepMs: 3_600_000, ...options.config };
  let engine: UsherEngine;
  let contents: () => Promise<StoreContents>;
  if (target === 'cluster') {
    const url = await createDatabase(await (postgres ??= startPostgres()));
    const http = request(await startCluster(url, config));
    // Only for tick() (a step run from here, as any instance may) and stats(): the server's own keeper does the rest.
    engine = await createPostgresEngine({
      connectionString: url,
      config,
      keeper: false,
      poolSize: 6,
    });
    opened.push(engine);
    return {
      app: createApp(engine, options.app),
      engine,
      clock,
      contents: () => readContents(url),
      http,
      faults: [],
    };
  }
  if (onPostgres) {
    const url = await createDatabase(await (postgres ??= startPostgres()));
    engine = await createPostgresEngine({ connectionString: url, clock, config, poolSize: 8 });
    opened.push(engine);
    contents = () => readContents(url);
  } else {
    const store = new MemoryStore();
    engine = await createEngine({ clock, store, config });
    contents = async () => (await store.load())!;
  }
  await engine.loadCatalog(catalog);
  const app = createApp(engine, options.app);
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  return { app, engine, clock, contents, http: request(app.callback()), faults };
}

/** The engine options the server's environment can set (SPEC §7), by variable. */
const ENV: Partial<Record<keyof EngineConfig, string>> = {
  holdTtlMs: 'HOLD_TTL_MS',
  queueAdmitPerTick: 'QUEUE_ADMIT_PER_TICK',
  queueMaxActive: 'QUEUE_MAX_ACTIVE',
  tokenActiveTtlMs: 'TOKEN_ACTIVE_TTL_MS',
  queueWaitingTtlMs: 'QUEUE_WAITING_TTL_MS',
  maxHoldsPerUser: 'MAX_HOLDS_PER_USER',
};

/** Starts the real server, `WORKERS=2`, on `databaseUrl` with the test catalog; resolves to its URL once every worker is up. */
async function startCluster(databaseUrl: string, config: Partial<EngineConfig>): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'usher-cluster-'));
  const catalogFile = join(folder, 'catalog.json');
  await writeFile(catalogFile, JSON.stringify(catalog));
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    WORKERS: '2',
    PORT: '0',
    HOST: '127.0.0.1',
    CATALOG: catalogFile,
    QUEUE_TICK_MS: '100',
    MAX_CONNECTIONS_PER_ADDRESS: '0',
    TOKEN_RATE_PER_MINUTE: '0',
    LOG_LEVEL: 'info',
  };
  for (const [option, variable] of Object.entries(ENV)) {
    const value = config[option as keyof EngineConfig];
    if (value !== undefined) env[variable] = String(value);
  }
  const main = fileURLToPath(new URL('../../../server/src/main.ts', import.meta.url));
  const server = spawn(process.execPath, [...process.execArgv, main], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  servers.push(server);
  const lines = createInterface({ input: server.stdout! });
  return new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.url !== undefined && String(entry.msg).startsWith('usher listening'))
        resolve(entry.url);
    });
    server.once('exit', (code) =>
      reject(new Error(`the server exited (${code}) before it listened`)),
    );
  });
}

/** Waits, turn by turn of the event loop (no timers), until `check` holds. */
export async function until(check: () => Promise<boolean>, turns = 1_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the condition never held');
}

/** Queues `userId` and runs ticks until the token is active. */
export async function activeToken(api: Api, userId: string): Promise<string> {
  const issued = await api.http.post('/queue/tokens').send({ userId });
  let token = issued.body as z.infer<typeof schemas.QueueToken>;
  while (token.status === 'waiting') {
    await api.engine.tick();
    // On a real cluster the keeper's tick may run at the same moment: give it a turn.
    if (target === 'cluster') await new Promise((resolve) => setTimeout(resolve, 20));
    token = (await api.http.get('/queue/tokens/current').set(bearer(token.token))).body;
  }
  return token.token;
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Asserts a success answer: status, JSON, and a body that matches its documented schema. */
export function assertAnswer<T>(
  t: ExecutionContext,
  response: Response,
  status: number,
  schema: z.ZodType<T>,
): T {
  t.is(response.status, status, JSON.stringify(response.body));
  t.regex(response.headers['content-type'] ?? '', /^application\/json/);
  const parsed = schema.safeParse(response.body);
  t.true(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  return response.body as T;
}

/** Asserts an RFC 9457 answer with `code`, its status from the one table, and the documented Problem shape. */
export function assertProblem(
  t: ExecutionContext,
  response: Response,
  code: ProblemCode,
): z.infer<typeof schemas.Problem> {
  t.is(response.status, problemTable[code].status, JSON.stringify(response.body));
  t.regex(response.headers['content-type'] ?? '', /^application\/problem\+json/);
  const body = JSON.parse(response.text) as z.infer<typeof schemas.Problem>;
  t.true(schemas.Problem.safeParse(body).success);
  t.is(body.code, code);
  t.is(body.status, response.status);
  t.is(body.title, problemTable[code].title);
  t.true(body.detail.length > 0);
  return body;
}

/** The durable state, to show that a refused request changed nothing. */
export async function durable(api: Api): Promise<string> {
  const contents = await api.contents();
  return JSON.stringify(Object.entries(contents).map(([name, map]) => [name, [...map]]));
}
