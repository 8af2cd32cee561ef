import test from 'ava';
import { createApp, schemas } from '@usher/koa';
import { assertAnswer, assertProblem, bearer, durable, startApi, until } from './helpers/api.js';
import { capturedLogger } from './helpers/logs.js';
import type { RoomDouble } from './helpers/roomDouble.js';

// The room's engine side (room, updateRoom) is a test double here until issue 12's engine part is merged: helpers/roomDouble.ts.

const ADMIN = 'operator-secret-0123456789';
const admin = () => bearer(ADMIN);

test('without an admin token the operator routes and /metrics do not exist: 404 NOT_FOUND, as any unknown route', async (t) => {
  const api = await startApi({ room: true });
  for (const call of [api.http.get('/admin/room'), api.http.patch('/admin/room').send({ paused: true }), api.http.get('/metrics')]) {
    assertProblem(t, await call.set(admin()), 'NOT_FOUND');
  }
  t.is((api.served as RoomDouble).updates, 0);
});

test('a missing, malformed or wrong admin token is 401 ADMIN_TOKEN_INVALID with WWW-Authenticate, whatever its length; the right one is 200', async (t) => {
  const api = await startApi({ room: true, app: { adminToken: ADMIN } });
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
  const refused = await api.http.patch('/admin/room').set(bearer('nope')).send({ paused: true });
  assertProblem(t, refused, 'ADMIN_TOKEN_INVALID');
  t.is((api.served as RoomDouble).updates, 0, 'a refused change changes nothing');

  const room = assertAnswer(t, await api.http.get('/admin/room').set(admin()), 200, schemas.Room);
  t.deepEqual(room, { paused: false, admitPerTick: 100, maxActive: 1_000, opensAt: null, shuffle: true, waiting: 0, active: 0, admittedTotal: 0 });
  t.is((await api.http.get('/metrics').set(admin())).status, 200);
});

test('a queue token is not an admin token, and the admin token is no queue token', async (t) => {
  const api = await startApi({ room: true, app: { adminToken: ADMIN } });
  const token = (await api.http.post('/queue/tokens').send({ userId: 'ann' })).body.token as string;
  assertProblem(t, await api.http.get('/admin/room').set(bearer(token)), 'ADMIN_TOKEN_INVALID');
  assertProblem(t, await api.http.get('/queue/tokens/current').set(admin()), 'TOKEN_INVALID');
});

test('an admin token under 16 characters is refused when the app is made', async (t) => {
  const api = await startApi();
  t.throws(() => createApp(api.engine, { adminToken: 'short' }), { message: /at least 16 characters/ });
  t.throws(() => createApp(api.engine, { adminToken: '' }), { message: /at least 16 characters/ });
});

test('PATCH /admin/room changes the room, answers it, and logs who (the admin token, request id, address) and what, before → after', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({ room: true, app: { adminToken: ADMIN, logger } });
  await api.http.post('/queue/tokens').send({ userId: 'ann' });
  await api.http.post('/queue/tokens').send({ userId: 'bob' });
  const response = await api.http
    .patch('/admin/room')
    .set(admin())
    .set('X-Request-Id', 'change-42')
    .send({ paused: true, maxActive: 500, opensAt: '2027-05-01T10:00:00+09:00' });
  const room = assertAnswer(t, response, 200, schemas.Room);
  t.like(room, { paused: true, maxActive: 500, admitPerTick: 100, opensAt: '2027-05-01T01:00:00.000Z', shuffle: true, active: 2, waiting: 0 });
  t.deepEqual((await api.http.get('/admin/room').set(admin())).body, room, 'GET answers the changed room');

  await until(async () => lines.some((line) => line.audit === 'room'));
  const audit = lines.find((line) => line.audit === 'room')!;
  t.like(audit, { level: 30, who: 'admin token', requestId: 'change-42', address: '127.0.0.1', patch: { paused: true, maxActive: 500, opensAt: '2027-05-01T01:00:00.000Z' } });
  t.deepEqual(audit.before, { paused: false, admitPerTick: 100, maxActive: 1_000, opensAt: null, shuffle: true });
  t.deepEqual(audit.after, { paused: true, admitPerTick: 100, maxActive: 500, opensAt: '2027-05-01T01:00:00.000Z', shuffle: true });
  t.is(audit.msg, 'room changed by the admin token: paused false → true; maxActive 1000 → 500; opensAt null → "2027-05-01T01:00:00.000Z"');
  t.false(JSON.stringify(lines).includes(ADMIN), 'the admin token itself is never logged');

  const back = await api.http.patch('/admin/room').set(admin()).send({ opensAt: null, paused: false });
  t.like(back.body, { opensAt: null, paused: false });
});

test('PATCH /admin/room refuses unknown fields, wrong types, values out of range, a bad date, an empty change and a non-JSON body with 400, changing nothing', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({ room: true, app: { adminToken: ADMIN, logger } });
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
    { opensAt: 1_800_000_000_000 },
    { shuffle: null },
    [],
    'paused',
  ];
  for (const body of bad) {
    const response = await api.http.patch('/admin/room').set(admin()).send(body as object);
    const problem = assertProblem(t, response, 'VALIDATION_FAILED');
    t.true((problem.errors?.length ?? 0) > 0 || problem.detail.length > 0, JSON.stringify(body));
  }
  assertProblem(t, await api.http.patch('/admin/room').set(admin()).set('Content-Type', 'text/plain').send('paused=true'), 'VALIDATION_FAILED');
  t.is((api.served as RoomDouble).updates, 0);
  t.is(await durable(api), before);
  t.like((await api.http.get('/admin/room').set(admin())).body, { paused: false, maxActive: 1_000, admitPerTick: 100, opensAt: null });
  t.false(lines.some((line) => line.audit === 'room'), 'nothing changed, nothing logged as a change');
});

test('a setting the engine refuses (INVALID_ARGUMENT) is 400 with its reason, and nothing is logged as changed', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({
    room: { refuse: (patch) => (patch.opensAt !== undefined && patch.opensAt !== null && patch.opensAt < '2026-01-01' ? 'opensAt is in the past' : undefined) },
    app: { adminToken: ADMIN, logger },
  });
  const problem = assertProblem(t, await api.http.patch('/admin/room').set(admin()).send({ opensAt: '2020-01-01T00:00:00Z' }), 'INVALID_ARGUMENT');
  t.is(problem.detail, 'opensAt is in the past');
  t.false(lines.some((line) => line.audit === 'room'));
  t.is(api.faults.length, 0);
});
