import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { activeToken, manual, openEngine, rejects, START } from './helpers/engines.js';

/**
 * The PostgreSQL engine end to end, for what the behaviour suite
 * (packages/behaviour/test, every rule on both engines) does not check: what
 * the tables hold, positions between keeper steps, a token re-issued before a
 * step noticed the old one ended, stats and replayed answers read back from
 * the database (the engine's life cycle is a behaviour test: lifecycle.test.ts).
 */
const server = usePostgres(test);
const fresh = () => createDatabase(server());

test('after a step, positions come from its numbering: abandonment shows at the next step, ranks close up and never go up', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), {
    config: { ...manual, queueMaxActive: 1, queueWaitingTtlMs: 60_000 },
  });
  await engine.issueToken('first');
  const tokens: string[] = [];
  for (let i = 0; i < 50; i++) tokens.push((await engine.issueToken(`u${i}`)).token.token);
  const positionsOf = async (list: string[]) =>
    (await Promise.all(list.map((token) => engine.getToken(token)))).map((token) => token.position);
  t.deepEqual(
    await positionsOf(tokens),
    tokens.map((_, i) => i + 1),
  );
  await engine.tick(); // the line gets its numbers: positions now come from memory
  t.deepEqual(
    await positionsOf(tokens),
    tokens.map((_, i) => i + 1),
  );

  const leaving = new Set([0, 3, 7, 21, 49]);
  const staying = tokens.filter((_, i) => !leaving.has(i));
  const before = await positionsOf(staying);
  clock.increment(40_000);
  await positionsOf(staying);
  clock.increment(20_000);
  const stale = await positionsOf(staying);
  t.deepEqual(
    stale,
    before,
    'within a tick period of the last tick, abandonment waits for the next step',
  );
  await engine.tick();
  const after = await positionsOf(staying);
  t.deepEqual(
    after,
    staying.map((_, i) => i + 1),
    'ranks close up over those who left',
  );
  for (const [i, position] of after.entries())
    t.true(position! <= before[i]!, 'a position never goes up');
  t.is((await engine.stats()).waitingTokens, staying.length);
});

test('a user whose token ended before any step noticed gets a new one at once', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), {
    config: { ...manual, queueMaxActive: 1, tokenActiveTtlMs: 60_000, queueWaitingTtlMs: 30_000 },
  });
  const ann = await engine.issueToken('ann');
  const bob = await engine.issueToken('bob');
  t.deepEqual([ann.token.status, bob.token.status], ['active', 'waiting']);
  clock.increment(60_000); // ann's active token and bob's waiting one have both ended; no step ran
  const annAgain = await engine.issueToken('ann');
  const bobAgain = await engine.issueToken('bob');
  t.true(annAgain.created && bobAgain.created);
  t.not(annAgain.token.token, ann.token.token);
  t.deepEqual([annAgain.token.status, bobAgain.token.status], ['active', 'waiting']);
  t.is(bobAgain.token.position, 1);
  t.is(await engine.tokenOwner(ann.token.token), undefined);
  t.is(await engine.tokenOwner(bobAgain.token.token), 'bob', 'a waiting token has its owner too');
  t.is(await engine.tokenOwner('nope'), undefined);
});

test('a tick expires due holds in the database, each at its own deadline', async (t) => {
  const url = await fresh();
  const { engine, clock } = await openEngine(t, url, {
    config: { ...manual, tokenActiveTtlMs: 3_600_000, holdTtlMs: 60_000 },
  });
  const ann = await activeToken(engine, 'ann');
  const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  clock.increment(10_000);
  const second = await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
  clock.increment(55_000);
  await engine.tick();
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  const { rows } = await client.query<{ id: string; status: string; ended_at: string | null }>(
    'SELECT id, status, ended_at FROM reservations ORDER BY created_at',
  );
  t.deepEqual(rows, [
    { id: first.id, status: 'expired', ended_at: String(START + 60_000) },
    { id: second.id, status: 'held', ended_at: null },
  ]);
  clock.increment(5_000);
  await engine.sweep();
  t.is(
    (await client.query(`SELECT count(*)::int AS n FROM reservations WHERE status = 'held'`))
      .rows[0].n,
    0,
  );
});

test('stats on PostgreSQL: a payment counts once in payments, paid seats and wallets, and its token no longer counts as active', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's2', seatNo: 1 });
  await engine.charge(ann, { userId: 'ann', amount: 5_000 });
  t.like(await engine.stats(), {
    activeTokens: 1,
    heldSeats: 1,
    payments: 0,
    paidSeats: 0,
    wallets: 1,
  });
  await engine.pay(ann, { reservationId: hold.id });
  t.like(
    await engine.stats(),
    { activeTokens: 0, heldSeats: 0, payments: 1, paidSeats: 1, wallets: 1 },
    'the payment completed the token',
  );
});

test('a replayed answer, read back from the database, has the keys of the first answer in the same order', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const ann = await activeToken(engine, 'ann');
  const charge = await engine.charge(
    ann,
    { userId: 'ann', amount: 1_000 },
    { idempotencyKey: 'charge-1' },
  );
  t.is(
    JSON.stringify(
      await engine.charge(ann, { userId: 'ann', amount: 1_000 }, { idempotencyKey: 'charge-1' }),
    ),
    JSON.stringify(charge),
  );
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  const payment = await engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-1' });
  t.is(
    JSON.stringify(await engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-1' })),
    JSON.stringify(payment),
    'after the payment expired the token too',
  );
});

test('a schedule may name a concert loaded earlier', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const schedule = {
    id: 's9',
    concertId: 'c1',
    startsAt: '2027-12-31T22:00:00Z',
    totalSeats: 3,
    price: 10,
  };
  t.deepEqual(await engine.loadCatalog({ concerts: [], schedules: [schedule] }), {
    concertsAdded: 0,
    schedulesAdded: 1,
  });
  t.like(await engine.stats(), { concerts: 2, schedules: 4 });
});

test('arguments are checked before the token', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  await rejects(t, engine.reserve('', { scheduleId: '', seatNo: 1 }), 'VALIDATION_FAILED');
});
