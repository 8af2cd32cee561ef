// Orders over HTTP (SPEC §10); postgres/orders.test.ts runs them on the PostgreSQL engine.
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
  type Api,
} from './helpers/api.js';

/** Two rows of 5: row 1 VIP, row 2 R. */
async function withRows(api: Api): Promise<void> {
  await api.engine.loadCatalog({
    concerts: [],
    schedules: [
      {
        id: 'rows',
        concertId: 'c1',
        startsAt: '2027-06-01T19:00:00+09:00',
        totalSeats: 10,
        seatsPerRow: 5,
        prices: [
          { from: 1, to: 5, price: 5_000, name: 'VIP' },
          { from: 6, to: 10, price: 2_000, name: 'R' },
        ],
      },
    ],
  });
}

test('seatNos holds every seat in one reservation; one payment pays the sum; the seat list shows categories', async (t) => {
  const api = await startApi();
  await withRows(api);
  const ann = await activeToken(api, 'ann');
  const seats = assertAnswer(
    t,
    await api.http.get('/schedules/rows/seats').set(bearer(ann)),
    200,
    schemas.SeatList,
  );
  t.deepEqual(seats.seats.slice(4, 6), [
    { seatNo: 5, price: 5_000, category: 'VIP' },
    { seatNo: 6, price: 2_000, category: 'R' },
  ]);
  const hold = assertAnswer(
    t,
    await api.http
      .post('/reservations')
      .set(bearer(ann))
      .send({ scheduleId: 'rows', seatNos: [6, 5] }),
    201,
    schemas.Reservation,
  );
  t.like(hold, {
    seatNo: 5,
    price: 5_000,
    amount: 7_000,
    status: 'held',
    extensions: 0,
    seats: [
      { seatNo: 5, price: 5_000, category: 'VIP' },
      { seatNo: 6, price: 2_000, category: 'R' },
    ],
  });
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 7_000 });
  const payment = assertAnswer(
    t,
    await api.http.post('/payments').set(bearer(ann)).send({ reservationId: hold.id }),
    201,
    schemas.Payment,
  );
  t.like(payment, { amount: 7_000, balance: 0 });
  // The payment ended the token (its turn is over): a new turn sees the seats sold.
  const again = await activeToken(api, 'ann');
  const left = (await api.http.get('/schedules/rows/seats').set(bearer(again))).body.seats as {
    seatNo: number;
  }[];
  t.false(left.some(({ seatNo }) => seatNo === 5 || seatNo === 6));
});

test('a taken seat refuses the whole order: 409 SEAT_UNAVAILABLE naming the taken seats, nothing held', async (t) => {
  const api = await startApi();
  await withRows(api);
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 'rows', seatNo: 3 });
  const before = await durable(api);
  const problem = assertProblem(
    t,
    await api.http
      .post('/reservations')
      .set(bearer(bob))
      .send({ scheduleId: 'rows', seatNos: [2, 3, 4] }),
    'SEAT_UNAVAILABLE',
  );
  t.deepEqual(problem.seatNos, [3]);
  t.is(await durable(api), before);
});

test('best available: the lowest pair of one row, of a category; unknown category 404; none left 409', async (t) => {
  const api = await startApi({ config: { maxHoldsPerUser: 4, maxTicketsPerUser: 4 } });
  await withRows(api);
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 'rows', seatNo: 2 });
  const pair = assertAnswer(
    t,
    await api.http.post('/reservations').set(bearer(bob)).send({ scheduleId: 'rows', quantity: 2 }),
    201,
    schemas.Reservation,
  );
  t.deepEqual(
    pair.seats.map(({ seatNo }) => seatNo),
    [3, 4],
  );
  const r = assertAnswer(
    t,
    await api.http
      .post('/reservations')
      .set(bearer(bob))
      .send({ scheduleId: 'rows', quantity: 2, category: 'R' }),
    201,
    schemas.Reservation,
  );
  t.deepEqual(
    r.seats.map(({ seatNo, category }) => [seatNo, category]),
    [
      [6, 'R'],
      [7, 'R'],
    ],
  );
  assertProblem(
    t,
    await api.http
      .post('/reservations')
      .set(bearer(ann))
      .send({ scheduleId: 'rows', quantity: 1, category: 'S' }),
    'CATEGORY_NOT_FOUND',
  );
  // VIP has 1 and 5 left: no pair together, but two seats apart.
  assertProblem(
    t,
    await api.http
      .post('/reservations')
      .set(bearer(ann))
      .send({ scheduleId: 'rows', quantity: 2, category: 'VIP' }),
    'SEATS_UNAVAILABLE',
  );
  const apart = assertAnswer(
    t,
    await api.http
      .post('/reservations')
      .set(bearer(ann))
      .send({ scheduleId: 'rows', quantity: 2, category: 'VIP', together: false }),
    201,
    schemas.Reservation,
  );
  t.deepEqual(
    apart.seats.map(({ seatNo }) => seatNo),
    [1, 5],
  );
});

test('malformed order bodies are 400 VALIDATION_FAILED naming the field, and hold nothing', async (t) => {
  const api = await startApi();
  await withRows(api);
  const ann = await activeToken(api, 'ann');
  const before = await durable(api);
  for (const body of [
    { scheduleId: 'rows' },
    { scheduleId: 'rows', seatNo: 1, seatNos: [2] },
    { scheduleId: 'rows', seatNo: 1, quantity: 1 },
    { scheduleId: 'rows', seatNos: [] },
    { scheduleId: 'rows', seatNos: [1, 2, 3, 4, 5] },
    { scheduleId: 'rows', seatNos: [1, 1] },
    { scheduleId: 'rows', seatNos: [1, 'two'] },
    { scheduleId: 'rows', seatNos: 1 },
    { scheduleId: 'rows', quantity: 0 },
    { scheduleId: 'rows', quantity: 5 },
    { scheduleId: 'rows', quantity: 1.5 },
    { scheduleId: 'rows', quantity: 2, together: 'yes' },
    { scheduleId: 'rows', quantity: 2, category: '' },
    { scheduleId: 'rows', quantity: 2, category: 'x'.repeat(51) },
    { scheduleId: 'rows', seatNo: 1, category: 'VIP' },
    { scheduleId: 'rows', seatNos: [1], together: false },
    { scheduleId: 'rows', quantity: 2, extra: true },
  ]) {
    const problem = assertProblem(
      t,
      await api.http.post('/reservations').set(bearer(ann)).send(body),
      'VALIDATION_FAILED',
    );
    t.true((problem.errors ?? []).length > 0, JSON.stringify(body));
  }
  t.is(await durable(api), before);
});

test('limits: HOLD_LIMIT_REACHED first, then TICKET_LIMIT_REACHED counting held and paid seats of one date', async (t) => {
  const api = await startApi({ config: { maxHoldsPerUser: 2, maxTicketsPerUser: 3 } });
  await withRows(api);
  const ann = await activeToken(api, 'ann');
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 100_000 });
  const pair = (
    await api.http
      .post('/reservations')
      .set(bearer(ann))
      .send({ scheduleId: 'rows', seatNos: [1, 2] })
  ).body;
  await api.http.post('/payments').set(bearer(ann)).send({ reservationId: pair.id });
  const ann2 = await activeToken(api, 'ann');
  assertProblem(
    t,
    await api.http
      .post('/reservations')
      .set(bearer(ann2))
      .send({ scheduleId: 'rows', quantity: 2 }),
    'TICKET_LIMIT_REACHED',
  );
  assertAnswer(
    t,
    await api.http.post('/reservations').set(bearer(ann2)).send({ scheduleId: 'rows', seatNo: 9 }),
    201,
    schemas.Reservation,
  );
  // Another date has its own count.
  assertAnswer(
    t,
    await api.http.post('/reservations').set(bearer(ann2)).send({ scheduleId: 's1', seatNo: 1 }),
    201,
    schemas.Reservation,
  );
  // Two holds and three tickets of "rows": both limits are passed, the hold limit answers.
  assertProblem(
    t,
    await api.http.post('/reservations').set(bearer(ann2)).send({ scheduleId: 'rows', seatNo: 10 }),
    'HOLD_LIMIT_REACHED',
  );
  const limits = assertAnswer(t, await api.http.get('/order-limits'), 200, schemas.OrderLimits);
  t.deepEqual(limits, {
    maxSeatsPerOrder: 4,
    maxTicketsPerUser: 3,
    maxHoldsPerUser: 2,
    holdTtlMs: 300_000,
    holdExtensionMs: 120_000,
    holdExtensions: 1,
  });
});

test('a request that takes no body refuses one with fields (extend with { ms } is 400, nothing moves); {} and no body are fine', async (t) => {
  const api = await startApi();
  await withRows(api);
  const ann = await activeToken(api, 'ann');
  const hold = (
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 'rows', quantity: 2 })
  ).body;
  const problem = assertProblem(
    t,
    await api.http
      .post(`/reservations/${hold.id}/extend`)
      .set(bearer(ann))
      .send({ ms: 86_400_000 }),
    'VALIDATION_FAILED',
  );
  t.regex(problem.detail ?? '', /takes no body/);
  t.like((await api.http.get(`/reservations/${hold.id}`).set(bearer(ann))).body, {
    extensions: 0,
    expiresAt: hold.expiresAt,
  });
  assertProblem(
    t,
    await api.http.delete(`/reservations/${hold.id}`).set(bearer(ann)).send({ force: true }),
    'VALIDATION_FAILED',
  );
  t.is((await api.http.get(`/reservations/${hold.id}`).set(bearer(ann))).body.status, 'held');
  const extended = await api.http.post(`/reservations/${hold.id}/extend`).set(bearer(ann)).send({});
  t.is(extended.status, 200);
  t.is((await api.http.delete(`/reservations/${hold.id}`).set(bearer(ann))).status, 200);
});

test('POST /reservations/:id/extend moves expiresAt once; then 409 EXTENSION_LIMIT; expired 409 HOLD_EXPIRED', async (t) => {
  const api = await startApi();
  await withRows(api);
  const ann = await activeToken(api, 'ann');
  const hold = (
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 'rows', quantity: 3 })
  ).body;
  const extended = assertAnswer(
    t,
    await api.http.post(`/reservations/${hold.id}/extend`).set(bearer(ann)),
    200,
    schemas.Reservation,
  );
  t.like(extended, { extensions: 1, expiresAt: new Date(START + 420_000).toISOString() });
  assertProblem(
    t,
    await api.http.post(`/reservations/${hold.id}/extend`).set(bearer(ann)),
    'EXTENSION_LIMIT',
  );
  assertProblem(
    t,
    await api.http.post('/reservations/nope/extend').set(bearer(ann)),
    'RESERVATION_NOT_FOUND',
  );
  // Still held after the first five minutes, gone after seven.
  api.clock.increment(300_000);
  t.is((await api.http.get(`/reservations/${hold.id}`).set(bearer(ann))).body.status, 'held');
  api.clock.increment(120_000);
  t.is((await api.http.get(`/reservations/${hold.id}`).set(bearer(ann))).body.status, 'expired');
  const bob = await activeToken(api, 'bob');
  const other = (
    await api.http.post('/reservations').set(bearer(bob)).send({ scheduleId: 'rows', seatNo: 1 })
  ).body;
  api.clock.increment(300_000);
  assertProblem(
    t,
    await api.http.post(`/reservations/${other.id}/extend`).set(bearer(bob)),
    'HOLD_EXPIRED',
  );
});
