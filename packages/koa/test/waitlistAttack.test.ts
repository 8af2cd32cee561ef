/**
 * Hostile tests of the waitlist (SPEC §11) over HTTP on the embedded engine:
 * seats given up offered back to whoever gave them up, the limit of tickets
 * per user, strangers, quantities, streams.
 */
import test from 'ava';
import { invariantViolations } from '@usher/engine';
import { schemas } from '@usher/koa';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  startApi,
  type Api,
} from './helpers/api.js';

type Reservation = ReturnType<typeof schemas.Reservation.parse>;

/** `userId` holds `seatNos` of `scheduleId`; answers the token and the hold. */
async function hold(api: Api, userId: string, scheduleId: string, seatNos: number[]) {
  const token = await activeToken(api, userId);
  const response = await api.http
    .post('/reservations')
    .set(bearer(token))
    .send({ scheduleId, seatNos });
  if (response.status !== 201) throw new Error(JSON.stringify(response.body));
  return { token, hold: response.body as Reservation };
}

async function offers(api: Api, token: string, scheduleId: string): Promise<Reservation[]> {
  const { reservations } = (await api.http.get('/reservations?status=held').set(bearer(token)))
    .body as { reservations: Reservation[] };
  return reservations.filter((r) => r.scheduleId === scheduleId && r.origin === 'waitlist');
}

const join = (api: Api, token: string, scheduleId: string, quantity: number) =>
  api.http.post(`/schedules/${scheduleId}/waitlist`).set(bearer(token)).send({ quantity });

test('a seat whose offer its user cancels goes to the next in line, not back to them', async (t) => {
  const api = await startApi();
  // s2 (5 seats) sold out in holds: bob 1-4, cy 5.
  await hold(api, 'bob', 's2', [1, 2, 3, 4]);
  const cy = await hold(api, 'cy', 's2', [5]);
  const ann = await activeToken(api, 'ann');
  const dan = await activeToken(api, 'dan');
  t.is((await join(api, ann, 's2', 2)).status, 201);
  t.is((await join(api, dan, 's2', 1)).status, 201);
  await api.http.delete(`/reservations/${cy.hold.id}`).set(bearer(cy.token));
  const [offered] = await offers(api, ann, 's2');
  t.like(offered, { seatNo: 5, status: 'held' });
  // Ann does not want that seat: she cancels the offer.
  t.is((await api.http.delete(`/reservations/${offered!.id}`).set(bearer(ann))).status, 200);
  t.deepEqual(
    (await offers(api, ann, 's2')).map((r) => r.seatNo),
    [],
    'the seat ann just gave up is not offered to her again',
  );
  t.deepEqual(
    (await offers(api, dan, 's2')).map((r) => r.seatNo),
    [5],
    'dan, next in line, gets it',
  );
  t.deepEqual(invariantViolations(await api.contents()), []);
});

test('a seat whose offer lapses goes to the next in line, not back to the one who let it lapse', async (t) => {
  const api = await startApi({ config: { holdTtlMs: 60_000, holdSweepMs: 1_000 } });
  // bob buys seats 1-4 (they do not lapse); cy holds seat 5.
  const bob = await hold(api, 'bob', 's2', [1, 2, 3, 4]);
  await api.http.post('/users/bob/balance/charge').set(bearer(bob.token)).send({ amount: 12_000 });
  t.is(
    (await api.http.post('/payments').set(bearer(bob.token)).send({ reservationId: bob.hold.id }))
      .status,
    201,
  );
  const cy = await hold(api, 'cy', 's2', [5]);
  const ann = await activeToken(api, 'ann');
  const dan = await activeToken(api, 'dan');
  t.is((await join(api, ann, 's2', 2)).status, 201);
  t.is((await join(api, dan, 's2', 1)).status, 201);
  await api.http.delete(`/reservations/${cy.hold.id}`).set(bearer(cy.token));
  t.is((await offers(api, ann, 's2')).length, 1);
  api.clock.increment(60_001);
  await api.engine.sweep();
  const dans = await offers(api, await activeToken(api, 'dan'), 's2');
  t.deepEqual(
    dans.map((r) => r.seatNo),
    [5],
    'dan gets the seat ann let lapse',
  );
});

test('a refunded seat is not offered back to the one who refunded it while they wait for more', async (t) => {
  const api = await startApi();
  // ann buys seat 5 of s2; bob holds the rest; ann waits for one more.
  const ann = await activeToken(api, 'ann');
  const mine = (
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's2', seatNo: 5 })
  ).body as Reservation;
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 3_000 });
  t.is(
    (await api.http.post('/payments').set(bearer(ann)).send({ reservationId: mine.id })).status,
    201,
  );
  await hold(api, 'bob', 's2', [1, 2, 3, 4]);
  const ann2 = await activeToken(api, 'ann');
  const dan = await activeToken(api, 'dan');
  t.is((await join(api, ann2, 's2', 1)).status, 201, 'ann wants one more');
  t.is((await join(api, dan, 's2', 1)).status, 201);
  const ticket = (await api.http.get('/tickets').set(bearer(ann2))).body.tickets[0] as {
    id: string;
  };
  t.is((await api.http.post(`/tickets/${ticket.id}/refund`).set(bearer(ann2))).status, 200);
  t.deepEqual(
    (await offers(api, ann2, 's2')).map((r) => r.seatNo),
    [],
    'the seat ann refunded is not handed back to her as a hold',
  );
  t.deepEqual(
    (await offers(api, dan, 's2')).map((r) => r.seatNo),
    [5],
  );
});

test('MAX_TICKETS_PER_USER: seats still awaited on the waitlist count for a transfer’s receiver, so offers cannot carry them past it', async (t) => {
  const api = await startApi({ config: { maxTicketsPerUser: 2 } });
  // ann buys 2 seats of s2; bob holds the other 3; dan waits for 2.
  const ann = await activeToken(api, 'ann');
  const bought = (
    await api.http
      .post('/reservations')
      .set(bearer(ann))
      .send({ scheduleId: 's2', seatNos: [1, 2] })
  ).body as Reservation;
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 6_000 });
  t.is(
    (await api.http.post('/payments').set(bearer(ann)).send({ reservationId: bought.id })).status,
    201,
  );
  const bob = await hold(api, 'bob', 's2', [3, 4]);
  await hold(api, 'cy', 's2', [5]);
  const dan = await activeToken(api, 'dan');
  t.is((await join(api, dan, 's2', 2)).status, 201);
  // ann gives dan her two tickets: with the two he waits for, four > 2.
  const ann2 = await activeToken(api, 'ann');
  const tickets = (await api.http.get('/tickets').set(bearer(ann2))).body.tickets as {
    id: string;
  }[];
  const answers = [];
  for (const ticket of tickets)
    answers.push(
      await api.http
        .post(`/tickets/${ticket.id}/transfer`)
        .set(bearer(ann2))
        .send({ toUserId: 'dan' }),
    );
  assertProblem(t, answers[0]!, 'TICKET_LIMIT_REACHED');
  // Had they gone through, bob's cancel would now offer dan two more.
  await api.http.delete(`/reservations/${bob.hold.id}`).set(bearer(bob.token));
  const contents = await api.contents();
  const dansSeats =
    [...contents.tickets.values()].filter(
      (x) => x.holder === 'dan' && x.scheduleId === 's2' && x.status === 'valid',
    ).length +
    [...contents.reservations.values()]
      .filter((r) => r.userId === 'dan' && r.scheduleId === 's2' && r.status === 'held')
      .reduce((n, r) => n + (r.seats?.length ?? 1), 0);
  t.true(dansSeats <= 2, `dan has ${dansSeats} seats of s2`);
});

test('quantities and strangers: odd quantities are 400; a stranger’s token sees, leaves and streams none of another’s entry', async (t) => {
  const api = await startApi();
  await hold(api, 'bob', 's3', [1]);
  const ann = await activeToken(api, 'ann');
  for (const quantity of [0, -1, 1.5, 5, 1e308, '1', null, true, [1], { n: 1 }, 'NaN'])
    assertProblem(t, await join(api, ann, 's3', quantity as number), 'VALIDATION_FAILED');
  for (const body of ['[1]', '"x"', '1', 'null'])
    t.is(
      (
        await api.http
          .post('/schedules/s3/waitlist')
          .set(bearer(ann))
          .set('content-type', 'application/json')
          .send(body)
      ).status,
      400,
      body,
    );
  assertAnswer(t, await join(api, ann, 's3', 1), 201, schemas.WaitlistEntry);
  const mallory = await activeToken(api, 'mallory');
  assertProblem(
    t,
    await api.http.get('/schedules/s3/waitlist/me').set(bearer(mallory)),
    'WAITLIST_NOT_FOUND',
  );
  assertProblem(
    t,
    await api.http.delete('/schedules/s3/waitlist/me').set(bearer(mallory)),
    'WAITLIST_NOT_FOUND',
  );
  const stream = await api.http
    .get(`/schedules/s3/waitlist/me/events?access_token=${mallory}`)
    .buffer(false);
  t.is(stream.status, 404);
  t.is((await api.http.get(`/schedules/s3/waitlist/me/events`)).status, 401);
  t.is((await api.http.get('/schedules/s3/waitlist/me').set(bearer(ann))).body.position, 1);
});
