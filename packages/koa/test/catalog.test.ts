import test from 'ava';
import { schemas } from '@usher/koa';
import { activeToken, assertAnswer, assertProblem, bearer, startApi } from './helpers/api.js';

test('GET /concerts lists every concert', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const { concerts } = assertAnswer(
    t,
    await api.http.get('/concerts').set(bearer(token)),
    200,
    schemas.ConcertList,
  );
  t.deepEqual(concerts, [
    { id: 'c1', title: 'Spring Concert', artist: 'IU' },
    { id: 'c2', title: 'Autumn Concert' },
  ]);
});

test('GET /concerts/:id/schedules lists dates with seats left, by start time; 404 for an unknown concert', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const { schedules } = assertAnswer(
    t,
    await api.http.get('/concerts/c1/schedules').set(bearer(token)),
    200,
    schemas.ScheduleList,
  );
  t.deepEqual(
    schedules.map((schedule) => [schedule.id, schedule.availableSeats]),
    [
      ['s2', 5],
      ['s1', 10],
    ],
  );
  await api.http.post('/reservations').set(bearer(token)).send({ scheduleId: 's3', seatNo: 1 });
  t.deepEqual(
    assertAnswer(
      t,
      await api.http.get('/concerts/c2/schedules').set(bearer(token)),
      200,
      schemas.ScheduleList,
    ).schedules,
    [],
  );
  assertProblem(
    t,
    await api.http.get('/concerts/nope/schedules').set(bearer(token)),
    'CONCERT_NOT_FOUND',
  );
  assertProblem(
    t,
    await api.http.get(`/concerts/${'x'.repeat(129)}/schedules`).set(bearer(token)),
    'VALIDATION_FAILED',
  );
});

test('GET /schedules/:id/seats lists available seats ascending; 404 for an unknown date', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  await api.http.post('/reservations').set(bearer(token)).send({ scheduleId: 's2', seatNo: 2 });
  const list = assertAnswer(
    t,
    await api.http.get('/schedules/s2/seats').set(bearer(token)),
    200,
    schemas.SeatList,
  );
  t.deepEqual(list, {
    scheduleId: 's2',
    seats: [1, 3, 4, 5].map((seatNo) => ({ seatNo, price: 3_000 })),
  });
  assertProblem(
    t,
    await api.http.get('/schedules/nope/seats').set(bearer(token)),
    'SCHEDULE_NOT_FOUND',
  );
  assertProblem(t, await api.http.get('/schedules/nope/seats'), 'TOKEN_MISSING');
});

test('ids are decoded from the path; malformed percent-encoding is kept as typed (the router decodes safely), not a fault', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const decoded = assertProblem(
    t,
    await api.http.get('/schedules/a%20b/seats').set(bearer(token)),
    'SCHEDULE_NOT_FOUND',
  );
  t.regex(decoded.detail, /"a b"/);
  const raw = assertProblem(
    t,
    await api.http.get('/schedules/%E0%A4%A/seats').set(bearer(token)),
    'SCHEDULE_NOT_FOUND',
  );
  t.regex(raw.detail, /"%E0%A4%A"/);
  t.deepEqual(api.faults, []);
});
