import test from 'ava';
import { get } from 'node:http';
import { schemas } from '@usher/koa';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  START,
  startApi,
  type Api,
} from './helpers/api.js';
import { listening } from './helpers/streams.js';

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

/** Opens a waitlist event stream on a real port; resolves at its first event, with its text so far and its end. */
function openWaitlistStream(port: number, path: string) {
  return new Promise<{ text: () => string; ended: Promise<void>; status: number; type: string }>(
    (resolve, reject) => {
      const request = get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
        let text = '';
        const ended = new Promise<void>((done) => response.once('end', () => done()));
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('event: waitlist'))
            resolve({
              text: () => text,
              ended,
              status: response.statusCode ?? 0,
              type: response.headers['content-type'] ?? '',
            });
        });
      });
      request.on('error', reject);
    },
  );
}

/** The events of a text/event-stream body, as `[event, data]`. */
function events(text: string): [string, unknown][] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const [event, data] = block.split('\n');
      return [event!.slice(7), JSON.parse(data!.slice(6))];
    });
}

test('POST /schedules/:id/waitlist: 409 SEATS_AVAILABLE while a seat is for sale, then 201; GET and DELETE /me', async (t) => {
  const api = await startApi();
  const ann = await activeToken(api, 'ann');
  const join = (token: string, body: object = {}) =>
    api.http.post('/schedules/s3/waitlist').set(bearer(token)).send(body);
  assertProblem(t, await join(ann), 'SEATS_AVAILABLE');
  const bob = await hold(api, 'bob', 's3', [1]);
  const entry = assertAnswer(t, await join(ann, { quantity: 1 }), 201, schemas.WaitlistEntry);
  t.deepEqual(entry, {
    scheduleId: 's3',
    userId: 'ann',
    position: 1,
    quantity: 1,
    offered: 0,
    joinedAt: new Date(START).toISOString(),
  });
  const again = assertProblem(t, await join(ann), 'WAITLIST_JOINED');
  t.is(again.position, 1);
  const dan = await activeToken(api, 'dan');
  for (const body of [{ quantity: 0 }, { quantity: 5 }, { quantity: '1' }, { seats: 1 }])
    assertProblem(t, await join(dan, body), 'VALIDATION_FAILED');
  assertProblem(t, await api.http.post('/schedules/s3/waitlist').send({}), 'TOKEN_MISSING');
  assertProblem(
    t,
    await api.http.post('/schedules/nope/waitlist').set(bearer(dan)).send({}),
    'SCHEDULE_NOT_FOUND',
  );
  assertAnswer(t, await join(dan), 201, schemas.WaitlistEntry);
  const mine = assertAnswer(
    t,
    await api.http.get('/schedules/s3/waitlist/me').set(bearer(dan)),
    200,
    schemas.WaitlistEntry,
  );
  t.is(mine.position, 2);
  assertProblem(
    t,
    await api.http.get('/schedules/s3/waitlist/me').set(bearer(bob.token)),
    'WAITLIST_NOT_FOUND',
  );
  const left = assertAnswer(
    t,
    await api.http.delete('/schedules/s3/waitlist/me').set(bearer(ann)),
    200,
    schemas.WaitlistEntry,
  );
  t.is(left.userId, 'ann');
  assertProblem(
    t,
    await api.http.delete('/schedules/s3/waitlist/me').set(bearer(ann)),
    'WAITLIST_NOT_FOUND',
  );
  t.is((await api.http.get('/schedules/s3/waitlist/me').set(bearer(dan))).body.position, 1);
  assertProblem(
    t,
    await api.http.delete('/schedules/s3/waitlist/me').set(bearer(dan)).send({ x: 1 }),
    'VALIDATION_FAILED',
  );
});

test('a cancelled seat is offered: listed by GET /reservations with origin "waitlist", paid with the kept token', async (t) => {
  const api = await startApi();
  const bob = await hold(api, 'bob', 's3', [1]);
  const ann = await activeToken(api, 'ann');
  await api.http.post('/schedules/s3/waitlist').set(bearer(ann)).send({});
  // ann buys a seat of another date: her token is kept, no longer active.
  const other = (
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 1 })
  ).body as Reservation;
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 5_000 });
  t.is(
    (await api.http.post('/payments').set(bearer(ann)).send({ reservationId: other.id })).status,
    201,
  );
  await api.http.delete(`/reservations/${bob.hold.id}`).set(bearer(bob.token));
  const { reservations } = assertAnswer(
    t,
    await api.http.get('/reservations?status=held').set(bearer(ann)),
    200,
    schemas.ReservationList,
  );
  t.is(reservations.length, 1);
  t.like(reservations[0], { scheduleId: 's3', seatNo: 1, origin: 'waitlist', status: 'held' });
  const paid = await api.http
    .post('/payments')
    .set(bearer(ann))
    .send({ reservationId: reservations[0]!.id });
  t.is(paid.status, 201, JSON.stringify(paid.body));
  t.true(
    (await api.http.get('/tickets').set(bearer(ann))).body.tickets.some(
      (ticket: { scheduleId: string }) => ticket.scheduleId === 's3',
    ),
  );
});

test('GET /schedules/:id/waitlist/me/events pushes the entry, then the hold a refund frees, then the end', async (t) => {
  const api = await startApi();
  const bobToken = await activeToken(api, 'bob');
  const held = (
    await api.http.post('/reservations').set(bearer(bobToken)).send({ scheduleId: 's3', seatNo: 1 })
  ).body as Reservation;
  await api.http.post('/users/bob/balance/charge').set(bearer(bobToken)).send({ amount: 500 });
  await api.http.post('/payments').set(bearer(bobToken)).send({ reservationId: held.id });
  const ann = await activeToken(api, 'ann');
  await api.http.post('/schedules/s3/waitlist').set(bearer(ann)).send({});
  assertProblem(
    t,
    await api.http.get(`/schedules/s3/waitlist/me/events?access_token=${bobToken}`),
    'WAITLIST_NOT_FOUND',
  );
  assertProblem(t, await api.http.get('/schedules/s3/waitlist/me/events'), 'TOKEN_MISSING');
  const port = await listening(t, api);
  const stream = await openWaitlistStream(
    port,
    `/schedules/s3/waitlist/me/events?access_token=${ann}`,
  );
  t.is(stream.status, 200);
  t.regex(stream.type, /^text\/event-stream/);
  const { tickets } = (await api.http.get('/tickets').set(bearer(bobToken))).body as {
    tickets: { id: string }[];
  };
  const refund = await api.http.post(`/tickets/${tickets[0]!.id}/refund`).set(bearer(bobToken));
  t.is(refund.status, 200, JSON.stringify(refund.body));
  await stream.ended;
  const seen = events(stream.text());
  t.deepEqual(
    seen.map(([event]) => event),
    ['waitlist', 'reservation', 'waitlist'],
  );
  t.like(seen[0]![1], { userId: 'ann', position: 1, offered: 0 });
  const offer = schemas.Reservation.parse(seen[1]![1]);
  t.like(offer, { userId: 'ann', scheduleId: 's3', seatNo: 1, origin: 'waitlist' });
  t.is(seen[2]![1], null);
});
