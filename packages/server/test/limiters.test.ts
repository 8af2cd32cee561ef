import test, { type ExecutionContext } from 'ava';
import { createChallenge, solveChallenge } from 'altcha-lib/v1';
import { createEngine, MemoryStore, type UsherEngine } from '@usher/engine';
import { createPostgresEngine } from '@usher/postgres';
import { createApp, type AppOptions } from '@usher/koa';
import { createDatabase, startPostgres, usePostgres } from '@usher/testkit';
import pg from 'pg';
import { pino } from 'pino';
import request from 'supertest';
import { createAdminGuessLimiter, createTokenLimiter, LIMITS_TABLE } from '../src/limiters.js';
import { solvedHeader, type IssuedChallenge } from './helpers/challenge.js';

/**
 * The limits in PostgreSQL mode: gateways (here two apps, each with its own
 * engine and its own pool) over one database share the count, and a solved
 * challenge is good once across them. A real PostgreSQL (no mocks).
 */
const server = usePostgres(test);

async function pool(t: ExecutionContext, connectionString: string): Promise<pg.Pool> {
  const created = new pg.Pool({ connectionString, max: 2 });
  // A stopped server makes idle clients fail: that is the test's business, not a crash.
  created.on('error', () => undefined);
  t.teardown(() => created.end());
  return created;
}

const config = { queueTickMs: 3_600_000, holdSweepMs: 3_600_000 };

/** One gateway: an app over its own engine (by default an embedded one). */
async function gateway(t: ExecutionContext, options: AppOptions, engine?: UsherEngine) {
  engine ??= await createEngine({ store: new MemoryStore(), config });
  t.teardown(() => engine.close());
  const app = createApp(engine, options);
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  return { http: request(app.callback()), faults };
}

const join = (
  http: ReturnType<typeof request>,
  userId: string,
  headers: Record<string, string> = {},
) => http.post('/queue/tokens').set(headers).send({ userId });

test('two gateways over one database share the limit: what one spent, the other cannot spend again', async (t) => {
  const url = await createDatabase(server());
  const rate = { tokenRate: { perMinute: 3, burstPerSecond: 100 } };
  const a = await gateway(t, {
    tokenLimiter: await createTokenLimiter(rate, { pool: await pool(t, url) }),
  });
  const b = await gateway(t, {
    tokenLimiter: await createTokenLimiter(rate, { pool: await pool(t, url) }),
  });
  t.is((await join(a.http, 'u1')).status, 201);
  t.is((await join(b.http, 'u2')).status, 201);
  t.is((await join(a.http, 'u3')).status, 201);
  for (const http of [b.http, a.http]) {
    const refused = await join(http, 'u4');
    t.is(refused.status, 429);
    t.is(refused.body.code, 'RATE_LIMITED');
    t.true(
      Number(refused.headers['retry-after']) > 50,
      `the minute's window: ${refused.headers['retry-after']}`,
    );
  }
  // The counts are rows of one table: one per limiter and address.
  const check = new pg.Client(url);
  await check.connect();
  t.teardown(() => check.end());
  const { rows } = await check.query<{ key: string; points: number }>(
    `SELECT key, points FROM ${LIMITS_TABLE} ORDER BY key`,
  );
  t.deepEqual(
    rows.map((row) => row.key),
    ['tokens_minute:127.0.0.1', 'tokens_second:127.0.0.1'],
  );
  // The minute's window holds all five tries (the second's may have started again on a slow machine).
  t.is(rows[0]!.points, 5);
  t.deepEqual([...a.faults, ...b.faults], []);
});

test('the burst limit holds across gateways too, and TOKEN_RATE_PER_MINUTE=0 is no limiter at all', async (t) => {
  const url = await createDatabase(server());
  const rate = { tokenRate: { perMinute: 100, burstPerSecond: 2 } };
  const a = await gateway(t, {
    tokenLimiter: await createTokenLimiter(rate, { pool: await pool(t, url) }),
  });
  const b = await gateway(t, {
    tokenLimiter: await createTokenLimiter(rate, { pool: await pool(t, url) }),
  });
  // Three at once, through both gateways, within the same second: two pass, one is refused by the second's window.
  const answers = await Promise.all([join(a.http, 'v1'), join(b.http, 'v2'), join(a.http, 'v3')]);
  t.deepEqual(answers.map((response) => response.status).sort(), [201, 201, 429]);
  t.is(answers.find((response) => response.status === 429)!.headers['retry-after'], '1');
  t.is(
    await createTokenLimiter(
      { tokenRate: { perMinute: 0, burstPerSecond: 10 } },
      { pool: await pool(t, url) },
    ),
    undefined,
  );
});

test('a solved challenge is good once across gateways: the PostgreSQL engine keeps the spent ones', async (t) => {
  const url = await createDatabase(server());
  const hmacKey = 'a-shared-secret-of-at-least-32-bytes!';
  const challengeOn: AppOptions = { challenge: { hmacKey, maxNumber: 1_000 } };
  const engine = () => createPostgresEngine({ connectionString: url, config, poolSize: 6 });
  const a = await gateway(t, challengeOn, await engine());
  const b = await gateway(t, challengeOn, await engine());
  const header = await solvedHeader((await a.http.get('/queue/challenge')).body as IssuedChallenge);
  t.is(
    (await join(b.http, 'ann', { 'X-Challenge': header })).status,
    201,
    'issued by one gateway, verified by another (shared secret)',
  );
  const replayed = await join(a.http, 'bob', { 'X-Challenge': header });
  t.is(replayed.status, 400);
  t.like(replayed.body, { code: 'CHALLENGE_FAILED', reason: 'replayed' });
  // A challenge of another key (a gateway without the shared secret) does not verify.
  const foreign = await createChallenge({
    hmacKey: 'another-key-entirely-0123456789abcdef',
    maxNumber: 10,
  });
  const found = (await solveChallenge(foreign.challenge, foreign.salt, foreign.algorithm, 10)
    .promise)!;
  t.like(
    (
      await join(a.http, 'cat', {
        'X-Challenge': Buffer.from(JSON.stringify({ ...foreign, number: found.number })).toString(
          'base64',
        ),
      })
    ).body,
    { reason: 'wrong' },
  );
});

test('PostgreSQL down: each gateway counts in its own memory instead, says so once, and joining goes on (limited)', async (t) => {
  // A server of its own: this test stops it.
  const own = await startPostgres();
  t.teardown(() => own.remove());
  const url = await createDatabase(own);
  const lines: Record<string, any>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  );
  const a = await gateway(t, {
    tokenLimiter: await createTokenLimiter(
      { tokenRate: { perMinute: 2, burstPerSecond: 100 } },
      { pool: await pool(t, url), logger },
    ),
  });
  t.is((await join(a.http, 'w1')).status, 201);
  await own.stop('fast');
  t.is((await join(a.http, 'w2')).status, 201, 'the memory insurance counts from zero');
  t.is((await join(a.http, 'w3')).status, 201);
  t.is((await join(a.http, 'w4')).status, 429, 'and still limits');
  const warnings = lines.filter((line) => line.level === 40);
  t.true(warnings.length >= 1 && warnings.length <= 2, JSON.stringify(warnings));
  t.regex(warnings[0]!.msg, /PostgreSQL cannot count tokens_(second|minute) now/);
  t.deepEqual(a.faults, []);
});

test("many gateways starting at once on a new database all create their limiters: the counters' table is created once, without a race", async (t) => {
  // CREATE TABLE IF NOT EXISTS is not safe against itself in PostgreSQL: at the same moment one creator wins and
  // another fails with "type … already exists" (a cluster of four gateways failed to start so).
  for (let round = 0; round < 5; round++) {
    const url = await createDatabase(server());
    const pools = await Promise.all(Array.from({ length: 8 }, () => pool(t, url)));
    const rate = { tokenRate: { perMinute: 60, burstPerSecond: 10 } };
    const made = await Promise.allSettled(
      pools.flatMap((each) => [
        createTokenLimiter(rate, { pool: each }),
        createAdminGuessLimiter({ pool: each }),
      ]),
    );
    t.deepEqual(
      made
        .filter((result) => result.status === 'rejected')
        .map((result) => String((result as PromiseRejectedResult).reason)),
      [],
      `round ${round}`,
    );
    const limiters = made.flatMap((result) =>
      result.status === 'fulfilled' ? [result.value].flat() : [],
    );
    t.is(limiters.length, 8 * 3);
    t.is((await limiters[0]!.consume('203.0.113.9')).consumedPoints, 1, 'and they count');
  }
});
