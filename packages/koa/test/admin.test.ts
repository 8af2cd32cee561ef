import test from 'ava';
import fc from 'fast-check';
import { isEngineError } from '@usher/engine';
import { decideUpdateRoom, initialRoom, resolveConfig } from '@usher/engine/rules';
import { ADMIN_GUESSES_PER_MINUTE, createApp, schemas, toProblem } from '@usher/koa';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  durable,
  START,
  startApi,
  until,
} from './helpers/api.js';
import { capturedLogger } from './helpers/logs.js';

// The operator's routes (SPEC §9) over the real engine (and again over PostgreSQL: test/postgres/admin.test.ts).

const ADMIN = 'operator-secret-0123456789';
const admin = () => bearer(ADMIN);

test('without an admin token the operator routes and /metrics do not exist: 404 NOT_FOUND, as any unknown route', async (t) => {
  const api = await startApi();
  const before = await api.engine.room();
  for (const call of [
    api.http.get('/admin/room'),
    api.http.patch('/admin/room').send({ paused: true }),
    api.http.get('/metrics'),
  ]) {
    assertProblem(t, await call.set(admin()), 'NOT_FOUND');
  }
  t.deepEqual(await api.engine.room(), before, 'the PATCH changed nothing');
});

test('a missing, malformed or wrong admin token is 401 ADMIN_TOKEN_INVALID with WWW-Authenticate, whatever its length; the right one is 200', async (t) => {
  // More wrong tokens than an address may send in a minute by default (see the next test).
  const adminGuessLimiter = new RateLimiterMemory({ points: 100, duration: 60 });
  const api = await startApi({ app: { adminToken: ADMIN, adminGuessLimiter } });
  const room = assertAnswer(t, await api.http.get('/admin/room').set(admin()), 200, schemas.Room);
  t.deepEqual(room, {
    paused: false,
    admitPerTick: 100,
    maxActive: 1_000,
    opensAt: null,
    shuffle: true,
    waiting: 0,
    active: 0,
    admittedTotal: 0,
  });
  const wrongs: Record<string, string>[] = [
    {},
    { Authorization: ADMIN },
    { Authorization: `Basic ${ADMIN}` },
    { Authorization: 'Bearer ' },
    bearer('x'),
    bearer(ADMIN.slice(0, -1)),
    bearer(`${ADMIN}0`),
    bearer(ADMIN.toUpperCase()),
    bearer('y'.repeat(5_000)),
  ];
  for (const path of ['/admin/room', '/metrics']) {
    for (const headers of wrongs) {
      const response = await api.http.get(path).set(headers);
      assertProblem(t, response, 'ADMIN_TOKEN_INVALID');
      t.is(response.headers['www-authenticate'], 'Bearer');
    }
  }
  for (const headers of wrongs)
    assertProblem(
      t,
      await api.http.patch('/admin/room').set(headers).send({ paused: true }),
      'ADMIN_TOKEN_INVALID',
    );
  t.deepEqual(
    (await api.http.get('/admin/room').set(admin())).body,
    room,
    'a refused change changes nothing',
  );
  t.is((await api.http.get('/metrics').set(admin())).status, 200);
});

test('finding 6: wrong admin tokens are limited per address, 10 a minute, then 429 RATE_LIMITED with Retry-After (the right token too), each logged at warn; no token guesses nothing', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({ app: { adminToken: ADMIN, trustProxy: true, logger } });
  const from = (address: string, headers: Record<string, string> = {}) =>
    api.http.get('/admin/room').set('X-Forwarded-For', address).set(headers);
  for (let i = 0; i < 3; i++) assertProblem(t, await from('203.0.113.5'), 'ADMIN_TOKEN_INVALID');
  for (let i = 0; i < ADMIN_GUESSES_PER_MINUTE; i++)
    assertProblem(t, await from('203.0.113.5', bearer(`guess-${i}`)), 'ADMIN_TOKEN_INVALID');
  const over = await from('203.0.113.5', bearer('guess-10'));
  assertProblem(t, over, 'RATE_LIMITED');
  t.true(Number(over.headers['retry-after']) >= 1 && Number(over.headers['retry-after']) <= 60);
  assertProblem(t, await from('203.0.113.5', admin()), 'RATE_LIMITED');
  assertProblem(
    t,
    await api.http
      .patch('/admin/room')
      .set('X-Forwarded-For', '203.0.113.5')
      .set(admin())
      .send({ paused: true }),
    'RATE_LIMITED',
  );
  t.false((await api.engine.room()).paused);
  assertAnswer(t, await from('203.0.113.6', admin()), 200, schemas.Room);
  // An IPv6 guesser is one address per /64, as for the token limit.
  for (let i = 0; i < ADMIN_GUESSES_PER_MINUTE; i++)
    assertProblem(t, await from(`2001:db8::${i + 1}`, bearer('nope')), 'ADMIN_TOKEN_INVALID');
  assertProblem(t, await from('2001:db8::ffff', admin()), 'RATE_LIMITED');
  const warned = lines.filter((line) => line.msg === 'a wrong admin token');
  t.is(warned.length, 2 * ADMIN_GUESSES_PER_MINUTE, 'each wrong token, none of the missing ones');
  t.true(warned.every((line) => line.level === 40 && typeof line.requestId === 'string'));
  t.is(warned[0]?.address, '203.0.113.5');
  t.false(JSON.stringify(lines).includes('guess-'), 'a guess is never logged');
});

test('a queue token is not an admin token, and the admin token is no queue token', async (t) => {
  const api = await startApi({ app: { adminToken: ADMIN } });
  const token = (await api.http.post('/queue/tokens').send({ userId: 'ann' })).body.token as string;
  assertProblem(t, await api.http.get('/admin/room').set(bearer(token)), 'ADMIN_TOKEN_INVALID');
  assertProblem(t, await api.http.get('/queue/tokens/current').set(admin()), 'TOKEN_INVALID');
});

test('an admin token under 16 characters is refused when the app is made', async (t) => {
  const api = await startApi();
  t.throws(() => createApp(api.engine, { adminToken: 'short' }), {
    message: /at least 16 characters/,
  });
  t.throws(() => createApp(api.engine, { adminToken: '' }), { message: /at least 16 characters/ });
});

test('PATCH /admin/room changes the room, answers it, and logs who (the admin token, request id, address) and what, before → after', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({ app: { adminToken: ADMIN, logger } });
  await api.http.post('/queue/tokens').send({ userId: 'ann' });
  await api.http.post('/queue/tokens').send({ userId: 'bob' });
  const response = await api.http
    .patch('/admin/room')
    .set(admin())
    .set('X-Request-Id', 'change-42')
    .send({ paused: true, maxActive: 500, opensAt: '2027-05-01T10:00:00+09:00' });
  const room = assertAnswer(t, response, 200, schemas.Room);
  t.deepEqual(room, {
    paused: true,
    maxActive: 500,
    admitPerTick: 100,
    opensAt: '2027-05-01T01:00:00.000Z',
    shuffle: true,
    active: 2,
    waiting: 0,
    admittedTotal: 2,
  });
  t.deepEqual(
    (await api.http.get('/admin/room').set(admin())).body,
    room,
    'GET answers the changed room',
  );

  await until(async () => lines.some((line) => line.audit === 'room'));
  const audit = lines.find((line) => line.audit === 'room')!;
  t.like(audit, {
    level: 30,
    who: 'admin token',
    requestId: 'change-42',
    address: '127.0.0.1',
    patch: { paused: true, maxActive: 500, opensAt: '2027-05-01T01:00:00.000Z' },
  });
  t.deepEqual(audit.before, {
    paused: false,
    admitPerTick: 100,
    maxActive: 1_000,
    opensAt: null,
    shuffle: true,
  });
  t.deepEqual(audit.after, {
    paused: true,
    admitPerTick: 100,
    maxActive: 500,
    opensAt: '2027-05-01T01:00:00.000Z',
    shuffle: true,
  });
  t.is(
    audit.msg,
    'room changed by the admin token: paused false → true; maxActive 1000 → 500; opensAt null → "2027-05-01T01:00:00.000Z"',
  );
  t.false(JSON.stringify(lines).includes(ADMIN), 'the admin token itself is never logged');

  // null on a room still waiting for its opening opens it now: opensAt becomes the time of the change (tokens still say when).
  const back = await api.http
    .patch('/admin/room')
    .set(admin())
    .send({ opensAt: null, paused: false });
  t.like(back.body, { opensAt: new Date(START).toISOString(), paused: false });
  await api.engine.tick();
  t.like(
    (await api.http.patch('/admin/room').set(admin()).send({ opensAt: null })).body,
    { opensAt: null },
    'on an open room, null clears it',
  );
});

test('PATCH /admin/room takes effect at the next tick: paused holds a new token back across ticks, resume admits it; a lower maxActive admits nobody until under it', async (t) => {
  const api = await startApi({
    config: { queueMaxActive: 2, tokenActiveTtlMs: 3_600_000, queueWaitingTtlMs: 3_600_000 },
    app: { adminToken: ADMIN },
  });
  await activeToken(api, 'ann');
  t.like(
    assertAnswer(
      t,
      await api.http.patch('/admin/room').set(admin()).send({ paused: true }),
      200,
      schemas.Room,
    ),
    { paused: true, active: 1 },
  );
  const bob = (await api.http.post('/queue/tokens').send({ userId: 'bob' })).body as {
    token: string;
    status: string;
    position: number;
  };
  t.like(
    bob,
    { status: 'waiting', position: 1 },
    'paused: not admitted at issue though there is room',
  );
  for (let i = 0; i < 3; i++) {
    api.clock.increment(1_000);
    await api.engine.tick();
  }
  t.like(
    (await api.http.get('/queue/tokens/current').set(bearer(bob.token))).body,
    { status: 'waiting', position: 1 },
    'paused: not admitted by ticks',
  );
  t.like(
    (await api.http.patch('/admin/room').set(admin()).send({ paused: false, maxActive: 1 })).body,
    { paused: false, maxActive: 1, active: 1, waiting: 1 },
  );
  await api.engine.tick();
  t.like(
    (await api.http.get('/queue/tokens/current').set(bearer(bob.token))).body,
    { status: 'waiting' },
    'maxActive 1 with one active: nobody',
  );
  t.like((await api.http.patch('/admin/room').set(admin()).send({ maxActive: 2 })).body, {
    maxActive: 2,
  });
  await api.engine.tick();
  t.like(
    (await api.http.get('/queue/tokens/current').set(bearer(bob.token))).body,
    { status: 'active', position: 0 },
    'room again: admitted at the next tick',
  );
  t.like(assertAnswer(t, await api.http.get('/admin/room').set(admin()), 200, schemas.Room), {
    active: 2,
    waiting: 0,
    admittedTotal: 2,
  });
});

test('PATCH /admin/room refuses unknown fields, wrong types, values out of range, a bad date, an empty change and a non-JSON body with 400 VALIDATION_FAILED, changing nothing', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({ app: { adminToken: ADMIN, logger } });
  const room = (await api.http.get('/admin/room').set(admin())).body;
  const before = await durable(api);
  const bad: unknown[] = [
    {},
    { paused: 'yes' },
    { paused: true, extra: 1 },
    { admitPerTick: 0 },
    { admitPerTick: 1.5 },
    { admitPerTick: 1_000_001 },
    { maxActive: -1 },
    { maxActive: 5_000_001 },
    { maxActive: '10' },
    { opensAt: 'tomorrow' },
    { opensAt: '2027-05-01T10:00:00' },
    { opensAt: '2027-02-29T10:00:00Z' },
    { opensAt: 1_800_000_000_000 },
    { shuffle: null },
    [],
    'paused',
  ];
  for (const body of bad) {
    const response = await api.http
      .patch('/admin/room')
      .set(admin())
      .send(body as object);
    const problem = assertProblem(t, response, 'VALIDATION_FAILED');
    t.true((problem.errors?.length ?? 0) > 0 || problem.detail.length > 0, JSON.stringify(body));
  }
  assertProblem(
    t,
    await api.http
      .patch('/admin/room')
      .set(admin())
      .set('Content-Type', 'text/plain')
      .send('paused=true'),
    'VALIDATION_FAILED',
  );
  t.deepEqual((await api.http.get('/admin/room').set(admin())).body, room, 'the room is as it was');
  t.is(await durable(api), before);
  t.false(
    lines.some((line) => line.audit === 'room'),
    'nothing changed, nothing logged as a change',
  );
  t.is(api.faults.length, 0);
});

/**
 * One code for one meaning: a bad setting is VALIDATION_FAILED whichever layer
 * sees it. The route's schema refuses everything the engine's rule would
 * (`decideUpdateRoom`, which both engines run), so the engine's own refusal
 * is never reached from the API; were it reached, the one table maps it to
 * the same 400 VALIDATION_FAILED.
 */
test("every setting the route's schema accepts, the engine's rule accepts as parsed; whatever the rule refuses, it refuses as VALIDATION_FAILED, a 400", (t) => {
  const room = initialRoom(resolveConfig({}));
  const two = (n: number) => String(n).padStart(2, '0');
  const instant = fc
    .tuple(
      fc.date({
        min: new Date('0000-01-02T00:00:00Z'),
        max: new Date('9999-12-30T23:59:59Z'),
        noInvalidDate: true,
      }),
      fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      fc.boolean(),
    )
    .map(([date, offset, zulu]) => {
      if (zulu) return date.toISOString();
      const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19);
      return `${local}${offset < 0 ? '-' : '+'}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
    });
  const setting = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined });
  const patch = fc.record(
    {
      paused: setting(fc.oneof(fc.boolean(), fc.anything())),
      admitPerTick: setting(
        fc.oneof(fc.integer({ min: -2, max: 1_000_002 }), fc.double(), fc.string()),
      ),
      maxActive: setting(
        fc.oneof(fc.integer({ min: -2, max: 5_000_002 }), fc.constant(5_000_000), fc.double()),
      ),
      opensAt: setting(
        fc.oneof(
          instant,
          fc.constant(null),
          fc.string(),
          instant.map((value) => value.replace('T', ' ')),
          fc.integer(),
        ),
      ),
      shuffle: setting(fc.oneof(fc.boolean(), fc.anything())),
    },
    { requiredKeys: [] },
  );
  let accepted = 0;
  fc.assert(
    fc.property(patch, (given) => {
      const body = JSON.parse(JSON.stringify(given)) as Record<string, unknown>;
      const parsed = schemas.RoomSettingsPatch.safeParse(body);
      try {
        decideUpdateRoom(room, parsed.success ? parsed.data : body, START);
      } catch (error) {
        if (parsed.success)
          throw new Error(
            `the schema accepted ${JSON.stringify(body)}, the rule refused it: ${String(error)}`,
          );
        if (!isEngineError(error) || error.code !== 'VALIDATION_FAILED') throw error;
        if (toProblem(error, 'urn:usher:problem:').status !== 400) throw new Error('not a 400');
        return;
      }
      if (parsed.success) accepted++;
    }),
    { numRuns: 2_000 },
  );
  t.true(accepted > 100, `${accepted} accepted patches checked`);
});
