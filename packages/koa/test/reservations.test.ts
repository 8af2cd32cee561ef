import test from 'ava';
import { schemas } from '@usher/koa';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  durable,
  startApi,
  START,
} from './helpers/api.js';

test('POST /reservations holds a seat (201) for 5 minutes; GET shows it; DELETE cancels it, twice alike', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const hold = assertAnswer(
    t,
    await api.http.post('/reservations').set(bearer(token)).send({ scheduleId: 's1', seatNo: 4 }),
    201,
    schemas.Reservation,
  );
  t.like(hold, {
    userId: 'ann',
    scheduleId: 's1',
    seatNo: 4,
    price: 1_000,
    status: 'held',
    expiresAt: new Date(START + 300_000).toISOString(),
  });
  t.deepEqual(
    assertAnswer(
      t,
      await api.http.get(`/reservations/${hold.id}`).set(bearer(token)),
      200,
      schemas.Reservation,
    ),
    hold,
  );
  const cancelled = assertAnswer(
    t,
    await api.http.delete(`/reservations/${hold.id}`).set(bearer(token)),
    200,
    schemas.Reservation,
  );
  t.is(cancelled.status, 'cancelled');
  t.deepEqual(
    assertAnswer(
      t,
      await api.http.delete(`/reservations/${hold.id}`).set(bearer(token)),
      200,
      schemas.Reservation,
    ),
    cancelled,
  );
});

test('reserving: unknown date 404, unknown seat 404, taken seat 409, too many holds 409', async (t) => {
  const api = await startApi({ config: { maxHoldsPerUser: 1 } });
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  assertProblem(
    t,
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 'nope', seatNo: 1 }),
    'SCHEDULE_NOT_FOUND',
  );
  assertProblem(
    t,
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 11 }),
    'SEAT_NOT_FOUND',
  );
  await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 1 });
  assertProblem(
    t,
    await api.http.post('/reservations').set(bearer(bob)).send({ scheduleId: 's1', seatNo: 1 }),
    'SEAT_UNAVAILABLE',
  );
  assertProblem(
    t,
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 2 }),
    'HOLD_LIMIT_REACHED',
  );
});

test('reserving with a malformed body is 400 and holds nothing', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const before = await durable(api);
  const bodies = [
    {},
    { scheduleId: 's1' },
    { scheduleId: 's1', seatNo: '1' },
    { scheduleId: 's1', seatNo: 1.5 },
    { scheduleId: 's1', seatNo: 0 },
    { scheduleId: 's1', seatNo: -3 },
    { scheduleId: 's1', seatNo: 2 ** 53 },
    { scheduleId: ['s1'], seatNo: 1 },
    { scheduleId: 's1', seatNo: 1, extra: 1 },
    [],
  ];
  for (const body of bodies)
    assertProblem(
      t,
      await api.http.post('/reservations').set(bearer(token)).send(body),
      'VALIDATION_FAILED',
    );
  t.is(await durable(api), before);
});

test("someone else's reservation is 404; an expired hold cannot be cancelled (409); a paid one neither", async (t) => {
  const api = await startApi({ config: { tokenActiveTtlMs: 3_600_000 } });
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  const hold = (
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 1 })
  ).body;
  assertProblem(
    t,
    await api.http.get(`/reservations/${hold.id}`).set(bearer(bob)),
    'RESERVATION_NOT_FOUND',
  );
  assertProblem(
    t,
    await api.http.delete(`/reservations/${hold.id}`).set(bearer(bob)),
    'RESERVATION_NOT_FOUND',
  );
  api.clock.increment(300_000);
  t.is(
    assertAnswer(
      t,
      await api.http.get(`/reservations/${hold.id}`).set(bearer(ann)),
      200,
      schemas.Reservation,
    ).status,
    'expired',
  );
  assertProblem(
    t,
    await api.http.delete(`/reservations/${hold.id}`).set(bearer(ann)),
    'HOLD_EXPIRED',
  );

  const sold = (
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 2 })
  ).body;
  await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 3 });
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 1_000 });
  await api.http.post('/payments').set(bearer(ann)).send({ reservationId: sold.id });
  assertProblem(
    t,
    await api.http.delete(`/reservations/${sold.id}`).set(bearer(ann)),
    'ALREADY_PAID',
  );
});

test("GET /reservations lists the token's own live holds and paid tickets, newest first; ?status= keeps one kind; after paying it still answers", async (t) => {
  const api = await startApi({ config: { tokenActiveTtlMs: 3_600_000 } });
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  const list = async (token: string, query = '') =>
    assertAnswer(
      t,
      await api.http.get(`/reservations${query}`).set(bearer(token)),
      200,
      schemas.ReservationList,
    ).reservations;
  t.deepEqual(await list(ann), []);
  const first = assertAnswer(
    t,
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 1 }),
    201,
    schemas.Reservation,
  );
  api.clock.increment(1_000);
  const second = assertAnswer(
    t,
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 2 }),
    201,
    schemas.Reservation,
  );
  await api.http.post('/reservations').set(bearer(bob)).send({ scheduleId: 's1', seatNo: 3 });
  t.deepEqual(await list(ann), [second, first]);
  t.deepEqual(await list(ann, '?status=paid'), []);
  assertProblem(
    t,
    await api.http.get('/reservations?status=expired').set(bearer(ann)),
    'VALIDATION_FAILED',
  );
  assertProblem(t, await api.http.get('/reservations'), 'TOKEN_MISSING');
  assertProblem(t, await api.http.get('/reservations').set(bearer('nope')), 'TOKEN_INVALID');

  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 10_000 });
  await api.http.post('/payments').set(bearer(ann)).send({ reservationId: first.id });
  t.deepEqual(
    await list(ann, '?status=paid'),
    [{ ...first, status: 'paid' }],
    'the paid ticket, after the token ended',
  );
  t.deepEqual(await list(ann, '?status=held'), [second]);
});
