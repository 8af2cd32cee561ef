import test from 'ava';
import { schemas } from '@usher/koa';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  durable,
  startApi,
} from './helpers/api.js';

async function heldSeat(api: Awaited<ReturnType<typeof startApi>>, userId = 'ann') {
  const token = await activeToken(api, userId);
  const hold = (
    await api.http.post('/reservations').set(bearer(token)).send({ scheduleId: 's2', seatNo: 1 })
  ).body as { id: string };
  return { token, hold };
}

test('charge, pay (201), balance: the full payment flow', async (t) => {
  const api = await startApi();
  const { token, hold } = await heldSeat(api);
  t.deepEqual(
    assertAnswer(
      t,
      await api.http.post('/users/ann/balance/charge').set(bearer(token)).send({ amount: 5_000 }),
      200,
      schemas.Wallet,
    ),
    { userId: 'ann', balance: 5_000 },
  );
  const payment = assertAnswer(
    t,
    await api.http.post('/payments').set(bearer(token)).send({ reservationId: hold.id }),
    201,
    schemas.Payment,
  );
  t.like(payment, { reservationId: hold.id, userId: 'ann', amount: 3_000, balance: 2_000 });
  const again = await activeToken(api, 'ann');
  t.deepEqual(
    assertAnswer(
      t,
      await api.http.get('/users/ann/balance').set(bearer(again)),
      200,
      schemas.Wallet,
    ),
    { userId: 'ann', balance: 2_000 },
  );
  t.is((await api.http.get(`/reservations/${hold.id}`).set(bearer(again))).body.status, 'paid');
});

test('paying: too little balance 409 and nothing changes; twice 409; another user 404; expired 409', async (t) => {
  const api = await startApi({ config: { tokenActiveTtlMs: 3_600_000 } });
  const { token, hold } = await heldSeat(api);
  const before = await durable(api);
  assertProblem(
    t,
    await api.http.post('/payments').set(bearer(token)).send({ reservationId: hold.id }),
    'INSUFFICIENT_BALANCE',
  );
  t.is(await durable(api), before);
  const bob = await activeToken(api, 'bob');
  assertProblem(
    t,
    await api.http.post('/payments').set(bearer(bob)).send({ reservationId: hold.id }),
    'RESERVATION_NOT_FOUND',
  );
  await api.http.post('/users/ann/balance/charge').set(bearer(token)).send({ amount: 10_000 });
  const second = (
    await api.http.post('/reservations').set(bearer(token)).send({ scheduleId: 's2', seatNo: 2 })
  ).body;
  await api.http.post('/payments').set(bearer(token)).send({ reservationId: hold.id });
  assertProblem(
    t,
    await api.http.post('/payments').set(bearer(token)).send({ reservationId: hold.id }),
    'ALREADY_PAID',
  );
  api.clock.increment(300_000);
  assertProblem(
    t,
    await api.http.post('/payments').set(bearer(token)).send({ reservationId: second.id }),
    'HOLD_EXPIRED',
  );
  assertProblem(
    t,
    await api.http.post('/payments').set(bearer(token)).send({ reservationId: 7 }),
    'VALIDATION_FAILED',
  );
});

test('Idempotency-Key: a retried payment replays the first answer, even after the token expired; a reused key is 409', async (t) => {
  const api = await startApi();
  const { token, hold } = await heldSeat(api);
  await api.http.post('/users/ann/balance/charge').set(bearer(token)).send({ amount: 3_000 });
  const key = { 'Idempotency-Key': 'pay-7f3a' };
  const first = await api.http
    .post('/payments')
    .set(bearer(token))
    .set(key)
    .send({ reservationId: hold.id });
  const retry = await api.http
    .post('/payments')
    .set(bearer(token))
    .set(key)
    .send({ reservationId: hold.id });
  t.is(retry.status, first.status);
  t.deepEqual(retry.body, first.body);
  t.is(first.headers['idempotent-replayed'], undefined, 'the first answer is not a replay');
  t.is(retry.headers['idempotent-replayed'], 'true', 'the retry says it is a replay');
  assertProblem(
    t,
    await api.http.post('/payments').set(bearer(token)).set(key).send({ reservationId: 'other' }),
    'IDEMPOTENCY_KEY_REUSED',
  );
  assertProblem(
    t,
    await api.http.post('/payments').set(bearer(token)).send({ reservationId: hold.id }),
    'TOKEN_INVALID',
  );
  for (const bad of ['x'.repeat(129), 'has space']) {
    assertProblem(
      t,
      await api.http
        .post('/payments')
        .set(bearer(token))
        .set('Idempotency-Key', bad)
        .send({ reservationId: hold.id }),
      'VALIDATION_FAILED',
    );
  }
});

test('Idempotency-Key: a retried charge is applied once', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const key = { 'Idempotency-Key': 'charge-1' };
  const first = await api.http
    .post('/users/ann/balance/charge')
    .set(bearer(token))
    .set(key)
    .send({ amount: 700 });
  const retry = await api.http
    .post('/users/ann/balance/charge')
    .set(bearer(token))
    .set(key)
    .send({ amount: 700 });
  t.deepEqual([retry.status, retry.body], [first.status, first.body]);
  t.deepEqual(
    [first.headers['idempotent-replayed'], retry.headers['idempotent-replayed']],
    [undefined, 'true'],
  );
  const unkeyed = await api.http
    .post('/users/ann/balance/charge')
    .set(bearer(token))
    .send({ amount: 1 });
  t.is(unkeyed.headers['idempotent-replayed'], undefined);
  t.is((await api.http.get('/users/ann/balance').set(bearer(token))).body.balance, 701);
  assertProblem(
    t,
    await api.http
      .post('/users/ann/balance/charge')
      .set(bearer(token))
      .set(key)
      .send({ amount: 800 }),
    'IDEMPOTENCY_KEY_REUSED',
  );
});

test('wallets: only your own (403), amounts are checked (400), the limit holds (409)', async (t) => {
  const api = await startApi({ config: { maxChargeAmount: 1_000, maxBalance: 1_500 } });
  const token = await activeToken(api, 'ann');
  assertProblem(t, await api.http.get('/users/bob/balance').set(bearer(token)), 'FORBIDDEN');
  assertProblem(
    t,
    await api.http.post('/users/bob/balance/charge').set(bearer(token)).send({ amount: 1 }),
    'FORBIDDEN',
  );
  const before = await durable(api);
  for (const amount of [0, -1, 1.5, 1_001, '10', null, 1e300]) {
    assertProblem(
      t,
      await api.http.post('/users/ann/balance/charge').set(bearer(token)).send({ amount }),
      'VALIDATION_FAILED',
    );
  }
  t.is(await durable(api), before);
  await api.http.post('/users/ann/balance/charge').set(bearer(token)).send({ amount: 1_000 });
  assertProblem(
    t,
    await api.http.post('/users/ann/balance/charge').set(bearer(token)).send({ amount: 501 }),
    'BALANCE_LIMIT',
  );
  t.is((await api.http.get('/users/ann/balance').set(bearer(token))).body.balance, 1_000);
});
