import test from 'ava';
import { schemas } from '@usher/koa';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  startApi,
  START,
} from './helpers/api.js';

test('POST /queue/tokens answers 201 for a new token and 200 with the same token after', async (t) => {
  const api = await startApi();
  const first = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'ann' }),
    201,
    schemas.QueueToken,
  );
  const again = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'ann' }),
    200,
    schemas.QueueToken,
  );
  t.is(again.token, first.token);
  t.like(first, {
    userId: 'ann',
    status: 'active',
    position: 0,
    issuedAt: new Date(START).toISOString(),
  });
});

test('POST /queue/tokens refuses a missing, empty, too long or mistyped userId and unknown fields', async (t) => {
  const api = await startApi();
  for (const body of [
    {},
    { userId: '' },
    { userId: 'x'.repeat(129) },
    { userId: 7 },
    { userId: 'ann', admin: true },
    { userId: 'a\u0000b' },
  ]) {
    const problem = assertProblem(
      t,
      await api.http.post('/queue/tokens').send(body),
      'VALIDATION_FAILED',
    );
    t.true((problem.errors?.length ?? 0) > 0, JSON.stringify(body));
  }
  t.is((await api.engine.stats()).activeTokens, 0);
});

test('GET /queue/tokens/current shows position and wait while waiting, and 403 TOKEN_NOT_ACTIVE carries the position', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 1 } });
  await activeToken(api, 'ann');
  const bob = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'bob' }),
    201,
    schemas.QueueToken,
  );
  const cat = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'cat' }),
    201,
    schemas.QueueToken,
  );
  const current = assertAnswer(
    t,
    await api.http.get('/queue/tokens/current').set(bearer(cat.token)),
    200,
    schemas.QueueToken,
  );
  t.like(current, { status: 'waiting', position: 2 });
  t.true(current.estimatedWaitSeconds > 0);
  const problem = assertProblem(
    t,
    await api.http.get('/concerts').set(bearer(bob.token)),
    'TOKEN_NOT_ACTIVE',
  );
  t.is(problem.position, 1);
  t.is(typeof problem.estimatedWaitSeconds, 'number');
});

test('a missing or non-Bearer Authorization is 401 TOKEN_MISSING, an unknown token 401 TOKEN_INVALID, both with WWW-Authenticate', async (t) => {
  const api = await startApi();
  for (const headers of [
    {},
    { Authorization: 'Basic YW5uOnB3' },
    { Authorization: 'Bearer' },
    { Authorization: 'Bearer a b' },
  ]) {
    const response = await api.http.get('/queue/tokens/current').set(headers);
    assertProblem(t, response, 'TOKEN_MISSING');
    t.is(response.headers['www-authenticate'], 'Bearer');
  }
  const response = await api.http.get('/concerts').set(bearer('unknown-token-123456789'));
  assertProblem(t, response, 'TOKEN_INVALID');
  t.is(response.headers['www-authenticate'], 'Bearer');
  assertProblem(
    t,
    await api.http.get('/concerts').set({ Authorization: 'bearer   lower-case-scheme-works' }),
    'TOKEN_INVALID',
  );
});

test('an expired token is 401 TOKEN_INVALID', async (t) => {
  const api = await startApi({ config: { tokenActiveTtlMs: 60_000 } });
  const token = await activeToken(api, 'ann');
  api.clock.increment(60_000);
  assertProblem(t, await api.http.get('/queue/tokens/current').set(bearer(token)), 'TOKEN_INVALID');
});

test('finding 8: a token that ended because all is sold is polled 200 { status: "expired", reason: "sold_out" }, as the OpenAPI document says', async (t) => {
  const api = await startApi({
    config: { queueMaxActive: 1, maxHoldsPerUser: 20, maxTicketsPerUser: 20 },
  });
  const ann = await activeToken(api, 'ann');
  const bob = (await api.http.post('/queue/tokens').send({ userId: 'bob' })).body.token as string;
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 100_000 });
  const holds: string[] = [];
  for (const [scheduleId, seats] of [
    ['s1', 10],
    ['s2', 5],
    ['s3', 1],
  ] as const) {
    for (let seatNo = 1; seatNo <= seats; seatNo++)
      holds.push(
        (await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId, seatNo })).body
          .id as string,
      );
  }
  for (const reservationId of holds)
    t.is((await api.http.post('/payments').set(bearer(ann)).send({ reservationId })).status, 201);
  await api.engine.tick();
  const polled = assertAnswer(
    t,
    await api.http.get('/queue/tokens/current').set(bearer(bob)),
    200,
    schemas.QueueToken,
  );
  t.like(polled, { token: bob, userId: 'bob', status: 'expired', reason: 'sold_out', position: 0 });
  // A token that ended otherwise is as unknown as any.
  assertProblem(t, await api.http.get('/queue/tokens/current').set(bearer(ann)), 'TOKEN_INVALID');
  const document = (await api.http.get('/openapi.json')).body;
  t.regex(
    document.paths['/queue/tokens/current'].get.description,
    /ended because nothing is left to sell.*200.*"expired".*reason.*"sold_out"/,
  );
});
