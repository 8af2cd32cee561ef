import test from 'ava';
import { schemas } from '@usher/koa';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  startApi,
  type Api,
} from './helpers/api.js';

// The seat list and the dates carry a strong ETag derived from their bytes (issue 24): it changes
// with every hold, expiry and cancel (each changes which seats are available), and a client that
// sends it back gets 304 with no body while the list is as it was.

const seats = (api: Api, token: string, etag?: string) =>
  api.http
    .get('/schedules/s2/seats')
    .set({ ...bearer(token), ...(etag === undefined ? {} : { 'If-None-Match': etag }) });
const dates = (api: Api, token: string, etag?: string) =>
  api.http
    .get('/concerts/c1/schedules')
    .set({ ...bearer(token), ...(etag === undefined ? {} : { 'If-None-Match': etag }) });

/** A 200 with a strong ETag and the short Cache-Control; its ETag. */
function fresh(t: import('ava').ExecutionContext, response: import('supertest').Response): string {
  t.is(response.status, 200, response.text);
  const etag = response.headers['etag'] ?? '';
  t.regex(etag, /^"[A-Za-z0-9_-]{22}"$/);
  t.is(response.headers['cache-control'], 'public, max-age=1');
  return etag;
}

/** A 304: no body, the same ETag and Cache-Control, the request id. */
function unchanged(
  t: import('ava').ExecutionContext,
  response: import('supertest').Response,
  etag: string,
): void {
  t.is(response.status, 304, response.text);
  t.is(response.text ?? '', '');
  t.is(response.headers['etag'], etag);
  t.is(response.headers['cache-control'], 'public, max-age=1');
  t.truthy(response.headers['x-request-id']);
}

test('the seat list: a strong ETag, 304 while unchanged; a hold, an expiry, a cancel each change it', async (t) => {
  const api = await startApi({ config: { tokenActiveTtlMs: 3_600_000, holdTtlMs: 60_000 } });
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  const first = fresh(t, await seats(api, bob));
  unchanged(t, await seats(api, bob, first), first);
  // Asked by another token, weak or in a list, or `*`: the same answer.
  unchanged(t, await seats(api, ann, `W/${first}`), first);
  unchanged(t, await seats(api, bob, `"other", ${first}`), first);
  unchanged(t, await seats(api, bob, '*'), first);
  t.is(fresh(t, await seats(api, bob, '"other"')), first);

  // A hold.
  const hold = await api.http
    .post('/reservations')
    .set(bearer(ann))
    .send({ scheduleId: 's2', seatNo: 2 });
  t.is(hold.status, 201);
  const held = await seats(api, bob, first);
  const afterHold = fresh(t, held);
  t.not(afterHold, first);
  t.deepEqual(
    assertAnswer(t, held, 200, schemas.SeatList).seats.map((seat) => seat.seatNo),
    [1, 3, 4, 5],
  );
  unchanged(t, await seats(api, bob, afterHold), afterHold);

  // A cancel: seat 2 is back, and so is the first list's ETag (the same bytes).
  t.is((await api.http.delete(`/reservations/${hold.body.id}`).set(bearer(ann))).status, 200);
  const afterCancel = fresh(t, await seats(api, bob, afterHold));
  t.is(afterCancel, first);

  // An expiry.
  await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's2', seatNo: 3 });
  const heldAgain = fresh(t, await seats(api, bob, first));
  t.not(heldAgain, first);
  api.clock.increment(60_000);
  const afterExpiry = await seats(api, bob, heldAgain);
  t.is(fresh(t, afterExpiry), first);
  t.deepEqual(
    assertAnswer(t, afterExpiry, 200, schemas.SeatList).seats.map((seat) => seat.seatNo),
    [1, 2, 3, 4, 5],
  );
});

test('a payment leaves the available seats as they were: the ETag stays, 304', async (t) => {
  const api = await startApi({ config: { tokenActiveTtlMs: 3_600_000 } });
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  const hold = await api.http
    .post('/reservations')
    .set(bearer(ann))
    .send({ scheduleId: 's2', seatNo: 4 });
  const held = fresh(t, await seats(api, bob));
  const heldDates = fresh(t, await dates(api, bob));
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 5_000 });
  t.is(
    (await api.http.post('/payments').set(bearer(ann)).send({ reservationId: hold.body.id }))
      .status,
    201,
  );
  unchanged(t, await seats(api, bob, held), held);
  unchanged(t, await dates(api, bob, heldDates), heldDates);
});

test('the dates: a strong ETag, 304 while unchanged, a new one once a hold changes a count', async (t) => {
  const api = await startApi({ config: { tokenActiveTtlMs: 3_600_000 } });
  const ann = await activeToken(api, 'ann');
  const first = fresh(t, await dates(api, ann));
  unchanged(t, await dates(api, ann, first), first);
  await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 1 });
  const after = await dates(api, ann, first);
  t.not(fresh(t, after), first);
  t.is(
    assertAnswer(t, after, 200, schemas.ScheduleList).schedules.find((s) => s.id === 's1')
      ?.availableSeats,
    9,
  );
});

test('a 304 only for a token that may read: a missing or unknown token is refused as before', async (t) => {
  const api = await startApi();
  const ann = await activeToken(api, 'ann');
  const etag = fresh(t, await seats(api, ann));
  const missing = await api.http.get('/schedules/s2/seats').set({ 'If-None-Match': etag });
  assertProblem(t, missing, 'TOKEN_MISSING');
  t.is(missing.headers['cache-control'], 'no-store');
  t.is(missing.headers['etag'], undefined);
  assertProblem(t, await seats(api, 'not-a-token', etag), 'TOKEN_INVALID');
  // Other answers stay uncacheable.
  t.is(
    (await api.http.get('/queue/tokens/current').set(bearer(ann))).headers['cache-control'],
    'no-store',
  );
});
