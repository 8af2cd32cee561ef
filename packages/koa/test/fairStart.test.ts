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
import { listening, openStream, tokenEvents } from './helpers/streams.js';

/** The token's answers around the fair start and sold-out (SPEC §9) are the documented QueueToken and Problem shapes. */

const OPENS_AT = new Date(START + 600_000).toISOString();

test('before the opening: position null and opensAt in the token, the 403 and the stream; at the opening the stream gets the place', async (t) => {
  const api = await startApi({
    config: { queueMaxActive: 1, tokenActiveTtlMs: 3_600_000, queueWaitingTtlMs: 3_600_000 },
  });
  await activeToken(api, 'ann');
  await api.engine.updateRoom({ opensAt: OPENS_AT });
  const bob = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'bob' }),
    201,
    schemas.QueueToken,
  );
  t.like(bob, { status: 'waiting', position: null, opensAt: OPENS_AT });
  t.like(
    assertAnswer(
      t,
      await api.http.get('/queue/tokens/current').set(bearer(bob.token)),
      200,
      schemas.QueueToken,
    ),
    { position: null, opensAt: OPENS_AT },
  );
  const problem = assertProblem(
    t,
    await api.http.get('/concerts').set(bearer(bob.token)),
    'TOKEN_NOT_ACTIVE',
  );
  t.is(problem.position, null);

  // The first event is read before the clock moves (the watch is counted before the stream's first read).
  const stream = await openStream(await listening(t, api), bob.token);
  t.teardown(() => stream.response.destroy());
  api.clock.set(START + 600_000);
  await api.engine.tick();
  await api.engine.close(); // ends the stream
  await stream.ended;
  const events = tokenEvents(stream.text());
  t.deepEqual(
    events.map((view) => [view.position, view.opensAt]),
    [
      [null, OPENS_AT],
      [1, undefined],
    ],
  );
});

test('sold out: a new token answers 201, expired, with reason sold_out', async (t) => {
  const api = await startApi({
    config: { queueMaxActive: 1, maxHoldsPerUser: 16, maxTicketsPerUser: 16 },
  });
  const ann = await activeToken(api, 'ann');
  await api.engine.charge(ann, { userId: 'ann', amount: 25_500 });
  // Every seat of the test catalog (10 + 5 + 1): held, then paid.
  const seats = [
    ...Array.from({ length: 10 }, (_, i) => ['s1', i + 1] as const),
    ...Array.from({ length: 5 }, (_, i) => ['s2', i + 1] as const),
    ['s3', 1] as const,
  ];
  const holds = [];
  for (const [scheduleId, seatNo] of seats)
    holds.push(await api.engine.reserve(ann, { scheduleId, seatNo }));
  for (const hold of holds) await api.engine.pay(ann, { reservationId: hold.id });
  await api.engine.tick();
  const late = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'zed' }),
    201,
    schemas.QueueToken,
  );
  t.like(late, { status: 'expired', reason: 'sold_out', position: 0 });
});
