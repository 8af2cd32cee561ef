import test from 'ava';
import { schemas } from '@usher/koa';
import { assertAnswer, assertProblem, bearer, startApi } from './helpers/api.js';

/** The host's authentication, simulated: its middleware would have verified this header. */
const hostAuth = {
  app: {
    resolveUserId: (ctx: { get: (name: string) => string }) => ctx.get('X-Host-User') || undefined,
  },
};

test('with resolveUserId the host decides who queues; the body needs no userId', async (t) => {
  const api = await startApi(hostAuth);
  const token = assertAnswer(
    t,
    await api.http.post('/queue/tokens').set('X-Host-User', 'ann'),
    201,
    schemas.QueueToken,
  );
  t.is(token.userId, 'ann');
  assertAnswer(
    t,
    await api.http.post('/queue/tokens').set('X-Host-User', 'ann').send({ userId: 'ann' }),
    200,
    schemas.QueueToken,
  );
  assertProblem(
    t,
    await api.http.post('/queue/tokens').set('X-Host-User', 'ann').send({ userId: 'bob' }),
    'FORBIDDEN',
  );
  assertProblem(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'ann' }),
    'IDENTITY_MISSING',
  );
});

test('with resolveUserId a queue token only works for its own user, even a stolen one', async (t) => {
  const api = await startApi(hostAuth);
  const token = (await api.http.post('/queue/tokens').set('X-Host-User', 'ann')).body
    .token as string;
  assertAnswer(
    t,
    await api.http.get('/concerts').set(bearer(token)).set('X-Host-User', 'ann'),
    200,
    schemas.ConcertList,
  );
  assertProblem(
    t,
    await api.http.get('/concerts').set(bearer(token)).set('X-Host-User', 'mallory'),
    'FORBIDDEN',
  );
  assertProblem(t, await api.http.get('/concerts').set(bearer(token)), 'IDENTITY_MISSING');
  assertProblem(
    t,
    await api.http.get('/concerts').set(bearer('unknown-token')).set('X-Host-User', 'ann'),
    'TOKEN_INVALID',
  );
  // Without a queue token the host is not asked: the engine's own refusal, not a sign-in one.
  assertProblem(t, await api.http.get('/concerts'), 'TOKEN_MISSING');
  t.is((await api.http.get('/health')).status, 200);
});

test('with resolveUserId an idempotent payment retry is still answered after the payment expired the token', async (t) => {
  const api = await startApi(hostAuth);
  const ann = { 'X-Host-User': 'ann' };
  const token = (await api.http.post('/queue/tokens').set(ann)).body.token as string;
  const hold = (
    await api.http
      .post('/reservations')
      .set(ann)
      .set(bearer(token))
      .send({ scheduleId: 's1', seatNo: 1 })
  ).body;
  await api.http
    .post('/users/ann/balance/charge')
    .set(ann)
    .set(bearer(token))
    .send({ amount: 1_000 });
  const pay = () =>
    api.http
      .post('/payments')
      .set(ann)
      .set(bearer(token))
      .set('Idempotency-Key', 'k1')
      .send({ reservationId: hold.id });
  const first = assertAnswer(t, await pay(), 201, schemas.Payment);
  t.deepEqual(assertAnswer(t, await pay(), 201, schemas.Payment), first);
});
