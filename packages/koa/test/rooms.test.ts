import test from 'ava';
import { schemas } from '@usher/koa';
import { assertAnswer, assertProblem, bearer, START, startApi, type Api } from './helpers/api.js';

// Rooms and presale codes over HTTP (SPEC §12), on the real engine (and again over PostgreSQL:
// test/postgres/rooms.test.ts).

const ADMIN = 'operator-secret-0123456789';
const admin = () => bearer(ADMIN);

/** A concert with a room of its own that opens in an hour, 2 places. */
async function withRoom(api: Api): Promise<void> {
  await api.engine.loadCatalog({
    concerts: [
      {
        id: 'tour',
        title: 'The Tour',
        room: { opensAt: new Date(START + 3_600_000).toISOString(), maxActive: 2 },
      },
    ],
    schedules: [
      {
        id: 'tour-1',
        concertId: 'tour',
        startsAt: '2027-06-01T19:00:00Z',
        totalSeats: 3,
        price: 700,
      },
    ],
  });
}

test("POST /queue/tokens {userId, concertId} joins the concert's room; its token is refused on other rooms' routes with 403 TOKEN_WRONG_ROOM", async (t) => {
  const api = await startApi({ app: { adminToken: ADMIN } });
  await withRoom(api);
  const joined = await api.http.post('/queue/tokens').send({ userId: 'ann', concertId: 'tour' });
  const token = assertAnswer(t, joined, 201, schemas.QueueToken);
  t.like(token, { room: 'tour', status: 'waiting', position: null });
  const plain = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'ann' }),
    201,
    schemas.QueueToken,
  );
  t.like(plain, { room: 'default', status: 'active' });
  assertProblem(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'ann', concertId: 'nope' }),
    'CONCERT_NOT_FOUND',
  );

  // The operator opens the room now: the next tick admits.
  assertAnswer(
    t,
    await api.http.patch('/admin/rooms/tour').set(admin()).send({ opensAt: null }),
    200,
    schemas.NamedRoom,
  );
  await api.engine.tick();
  const tour = bearer(token.token);
  const concerts = assertAnswer(
    t,
    await api.http.get('/concerts').set(tour),
    200,
    schemas.ConcertList,
  );
  t.deepEqual(
    concerts.concerts.map((concert) => concert.room),
    [undefined, undefined, 'tour'],
  );
  assertAnswer(
    t,
    await api.http.get('/concerts/tour/schedules').set(tour),
    200,
    schemas.ScheduleList,
  );
  const wrong = await api.http.get('/concerts/c1/schedules').set(tour);
  assertProblem(t, wrong, 'TOKEN_WRONG_ROOM');
  t.is(wrong.status, 403);
  assertProblem(
    t,
    await api.http.get('/schedules/tour-1/seats').set(bearer(plain.token)),
    'TOKEN_WRONG_ROOM',
  );
  assertProblem(
    t,
    await api.http.post('/reservations').set(tour).send({ scheduleId: 's1', seatNo: 1 }),
    'TOKEN_WRONG_ROOM',
  );
});

test('GET /admin/rooms lists every room, GET/PATCH /admin/rooms/:roomId one; /admin/room stays the default room; /metrics labels queue figures by room', async (t) => {
  const api = await startApi({ app: { adminToken: ADMIN } });
  await withRoom(api);
  await api.http.post('/queue/tokens').send({ userId: 'ann', concertId: 'tour' });
  await api.http.post('/queue/tokens').send({ userId: 'bob', concertId: 'tour' });
  const list = assertAnswer(
    t,
    await api.http.get('/admin/rooms').set(admin()),
    200,
    schemas.RoomList,
  );
  t.deepEqual(
    list.rooms.map((room) => [room.id, room.waiting, room.maxActive]),
    [
      ['default', 0, 1_000],
      ['tour', 2, 2],
    ],
  );
  const tour = assertAnswer(
    t,
    await api.http.get('/admin/rooms/tour').set(admin()),
    200,
    schemas.NamedRoom,
  );
  t.like(tour, { id: 'tour', opensAt: new Date(START + 3_600_000).toISOString(), soldOut: false });
  assertProblem(t, await api.http.get('/admin/rooms/nope').set(admin()), 'ROOM_NOT_FOUND');
  assertProblem(
    t,
    await api.http.patch('/admin/rooms/nope').set(admin()).send({ paused: true }),
    'ROOM_NOT_FOUND',
  );
  assertProblem(
    t,
    await api.http.get('/admin/rooms').set(bearer('wrong-token-0123456789')),
    'ADMIN_TOKEN_INVALID',
  );

  const paused = assertAnswer(
    t,
    await api.http.patch('/admin/rooms/tour').set(admin()).send({ paused: true }),
    200,
    schemas.NamedRoom,
  );
  t.like(paused, { id: 'tour', paused: true });
  t.like((await api.http.get('/admin/room').set(admin())).body, { paused: false });
  t.like((await api.http.get('/admin/rooms/default').set(admin())).body, {
    id: 'default',
    paused: false,
  });

  const metrics = (await api.http.get('/metrics').set(admin())).text;
  t.regex(metrics, /usher_room_waiting\{room="default"\} 0/);
  t.regex(metrics, /usher_room_waiting\{room="tour"\} 2/);
  t.regex(metrics, /usher_room_active\{room="tour"\} 0/);
  t.regex(metrics, /usher_room_admitted_total\{room="default"\} 0/);
  t.regex(metrics, /^usher_queue_waiting 2$/m, 'the totals of every room, as before rooms');
});

test('POST /admin/rooms/:roomId/codes {count} → 201 {codes}; a join with one goes to the head of the line; spent or unknown: 400 CODE_INVALID', async (t) => {
  const api = await startApi({ app: { adminToken: ADMIN } });
  await withRoom(api);
  for (const user of ['ann', 'bob', 'cat'])
    await api.http.post('/queue/tokens').send({ userId: user, concertId: 'tour' });
  const created = await api.http.post('/admin/rooms/tour/codes').set(admin()).send({ count: 2 });
  const { codes } = assertAnswer(t, created, 201, schemas.PresaleCodes);
  t.is(codes.length, 2);
  for (const count of [0, 1001, 'two'])
    assertProblem(
      t,
      await api.http.post('/admin/rooms/tour/codes').set(admin()).send({ count }),
      'VALIDATION_FAILED',
    );
  assertProblem(
    t,
    await api.http.post('/admin/rooms/nope/codes').set(admin()).send({ count: 1 }),
    'ROOM_NOT_FOUND',
  );

  const vip = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'vip', concertId: 'tour', code: codes[0] }),
    201,
    schemas.QueueToken,
  );
  t.like(vip, { status: 'waiting', position: 1 });
  const again = await api.http
    .post('/queue/tokens')
    .send({ userId: 'dan', concertId: 'tour', code: codes[0] });
  assertProblem(t, again, 'CODE_INVALID');
  t.is(again.status, 400);
  assertProblem(
    t,
    await api.http
      .post('/queue/tokens')
      .send({ userId: 'dan', concertId: 'tour', code: 'P-unknown' }),
    'CODE_INVALID',
  );
  assertProblem(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'dan', code: codes[1] }),
    'CODE_INVALID',
  );
  await api.engine.tick();
  t.like((await api.http.get('/queue/tokens/current').set(bearer(vip.token))).body, {
    status: 'active',
  });
  t.like((await api.http.get('/admin/rooms/tour').set(admin())).body, { active: 1, waiting: 3 });
  const durable = JSON.stringify([...(await api.contents()).codes]);
  t.false(durable.includes(codes[0]!) || durable.includes(codes[1]!), 'only hashes are stored');
});
