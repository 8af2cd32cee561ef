import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { activeToken, manual, openEngine, rejects, START } from './helpers/engines.js';

/**
 * The rules of SPEC §4 over PostgreSQL, end to end: the same scenarios and
 * answers as the embedded engine's behaviour tests.
 */
const server = usePostgres(test);
const fresh = () => createDatabase(server());

test('issuing twice returns the same token, the second time with created false', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const first = await engine.issueToken('ann');
  const second = await engine.issueToken('ann');
  t.true(first.created);
  t.false(second.created);
  t.is(second.token.token, first.token.token);
  t.true(first.token.token.length >= 21);
  t.is(first.token.issuedAt, new Date(START).toISOString());
});

test('a new token is active at once while nobody waits and there is room, then it waits', async (t) => {
  const { engine } = await openEngine(t, await fresh(), { config: { ...manual, queueMaxActive: 2 } });
  const ann = await engine.issueToken('ann');
  const bob = await engine.issueToken('bob');
  const cat = await engine.issueToken('cat');
  t.deepEqual([ann.token.status, bob.token.status, cat.token.status], ['active', 'active', 'waiting']);
  t.is(ann.token.position, 0);
  t.is(cat.token.position, 1);
});

test('each tick admits min(admitPerTick, maxActive - active) in FIFO order', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), {
    config: { ...manual, queueMaxActive: 4, queueAdmitPerTick: 2, tokenActiveTtlMs: 60_000, queueWaitingTtlMs: 7_200_000 },
  });
  const tokens: string[] = [];
  for (let i = 0; i < 10; i++) tokens.push((await engine.issueToken(`u${i}`)).token.token);
  const statusOf = async () => Promise.all(tokens.map(async (token) => (await engine.getToken(token).catch(() => null))?.status ?? 'gone'));
  t.deepEqual(await statusOf(), ['active', 'active', 'active', 'active', ...Array(6).fill('waiting')]);
  clock.increment(60_000); // the first four expire
  t.deepEqual(await engine.tick(), { admitted: 2, waiting: 4, active: 2 });
  t.deepEqual(await engine.tick(), { admitted: 2, waiting: 2, active: 4 });
  t.deepEqual(await engine.tick(), { admitted: 0, waiting: 2, active: 4 }, 'never above maxActive');
  t.deepEqual(await statusOf(), [...Array(4).fill('gone'), ...Array(4).fill('active'), 'waiting', 'waiting']);
  t.deepEqual((await Promise.all(tokens.slice(8).map((token) => engine.getToken(token)))).map((token) => token.position), [1, 2]);
});

test('positions are 1-based ranks among waiting tokens and never go up for someone who stays', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), { config: { ...manual, queueMaxActive: 1, queueWaitingTtlMs: 60_000 } });
  await engine.issueToken('first');
  const tokens: string[] = [];
  for (let i = 0; i < 50; i++) tokens.push((await engine.issueToken(`u${i}`)).token.token);
  const positionsOf = async (list: string[]) => (await Promise.all(list.map((token) => engine.getToken(token)))).map((token) => token.position);
  t.deepEqual(await positionsOf(tokens), tokens.map((_, i) => i + 1));
  await engine.tick(); // the line gets its numbers: positions now come from memory
  t.deepEqual(await positionsOf(tokens), tokens.map((_, i) => i + 1));

  const leaving = new Set([0, 3, 7, 21, 49]);
  const staying = tokens.filter((_, i) => !leaving.has(i));
  const before = await positionsOf(staying);
  clock.increment(40_000);
  await positionsOf(staying);
  clock.increment(20_000);
  const stale = await positionsOf(staying);
  t.deepEqual(stale, before, 'within a tick period of the last tick, abandonment waits for the next step');
  await engine.tick();
  const after = await positionsOf(staying);
  t.deepEqual(after, staying.map((_, i) => i + 1), 'ranks close up over those who left');
  for (const [i, position] of after.entries()) t.true(position <= before[i]!, 'a position never goes up');
  t.is((await engine.stats()).waitingTokens, staying.length);
});

test('a waiting token not polled for waitingTtl is abandoned; one that polls stays in line', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), { config: { ...manual, queueMaxActive: 1, queueWaitingTtlMs: 60_000 } });
  await engine.issueToken('active-user');
  const quiet = (await engine.issueToken('quiet')).token.token;
  const polite = (await engine.issueToken('polite')).token.token;
  t.is((await engine.getToken(polite)).position, 2);
  clock.increment(40_000);
  await engine.getToken(polite);
  clock.increment(20_000);
  await rejects(t, engine.getToken(quiet), 'TOKEN_INVALID');
  const stayed = await engine.getToken(polite);
  t.is(stayed.position, 1, 'the abandoned token no longer counts');
  t.is(stayed.expiresAt, new Date(START + 120_000).toISOString(), 'a waiting token expires waitingTtl after its last poll');
  const again = await engine.issueToken('quiet');
  t.true(again.created, 'an abandoned user can join again, at the back');
  t.is(again.token.position, 2);
});

test('the wait estimate follows the admission rate', async (t) => {
  const { engine } = await openEngine(t, await fresh(), {
    config: { queueMaxActive: 1, queueAdmitPerTick: 10, queueTickMs: 1_000, holdSweepMs: 3_600_000 },
  });
  await engine.issueToken('active-user');
  const tokens = [];
  for (let i = 0; i < 25; i++) tokens.push((await engine.issueToken(`u${i}`)).token);
  t.is(tokens[0]!.estimatedWaitSeconds, 1, 'at best 10 per second');
  t.is(tokens[24]!.estimatedWaitSeconds, 3);
  for (let i = 0; i < 50; i++) await engine.tick();
  t.is((await engine.getToken(tokens[24]!.token)).estimatedWaitSeconds, Math.ceil(25 / (1 / 600)));
  t.is((await engine.stats()).admissionRatePerSecond, 1 / 600);
});

test('every command but issuing and reading a token needs an active token', async (t) => {
  const { engine } = await openEngine(t, await fresh(), { config: { ...manual, queueMaxActive: 1 } });
  await engine.issueToken('ann');
  const waiting = (await engine.issueToken('bob')).token.token;
  const error = await rejects(t, engine.listConcerts(waiting), 'TOKEN_NOT_ACTIVE');
  t.is(error.details.position, 1);
  t.is(typeof error.details.estimatedWaitSeconds, 'number');
  await rejects(t, engine.reserve(waiting, { scheduleId: 's1', seatNo: 1 }), 'TOKEN_NOT_ACTIVE');
  await rejects(t, engine.getBalance(waiting, 'bob'), 'TOKEN_NOT_ACTIVE');
  await rejects(t, engine.listConcerts(''), 'TOKEN_MISSING');
  await rejects(t, engine.getToken(''), 'TOKEN_MISSING');
  await rejects(t, engine.listConcerts('no-such-token-000000000'), 'TOKEN_INVALID');
  await rejects(t, engine.getToken('x'.repeat(10_000)), 'TOKEN_INVALID');
  await rejects(t, engine.issueToken(''), 'VALIDATION_FAILED');
  await rejects(t, engine.issueToken('u'.repeat(129)), 'VALIDATION_FAILED');
  t.is(await engine.tokenOwner(waiting), 'bob');
  t.is(await engine.tokenOwner('nope'), undefined);
});

test('an active token expires activeTtl after admission, and never before the end of a hold its user has', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), { config: { ...manual, tokenActiveTtlMs: 60_000, holdTtlMs: 300_000 } });
  const bob = await activeToken(engine, 'bob');
  t.is((await engine.getToken(bob)).expiresAt, new Date(START + 60_000).toISOString());
  const ann = await activeToken(engine, 'ann');
  clock.increment(50_000);
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  t.is((await engine.getToken(ann)).expiresAt, hold.expiresAt);
  clock.increment(10_000);
  await rejects(t, engine.listConcerts(bob), 'TOKEN_INVALID');
  await rejects(t, engine.getToken(bob), 'TOKEN_INVALID');
  clock.increment(190_000); // far past ann's own 60 s
  await engine.charge(ann, { userId: 'ann', amount: 1_000 });
  t.is((await engine.pay(ann, { reservationId: hold.id })).amount, 1_000);
  t.is((await engine.stats()).activeTokens, 0, 'the payment completed the token');
});

test('a payment expires the token, and its slot goes to the next user at the next tick', async (t) => {
  const { engine } = await openEngine(t, await fresh(), { config: { ...manual, queueMaxActive: 1 } });
  const ann = await activeToken(engine, 'ann');
  const bob = (await engine.issueToken('bob')).token.token;
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await engine.charge(ann, { userId: 'ann', amount: 1_000 });
  await engine.pay(ann, { reservationId: hold.id });
  await rejects(t, engine.getToken(ann), 'TOKEN_INVALID');
  t.is((await engine.getToken(bob)).status, 'waiting');
  t.is((await engine.tick()).admitted, 1);
  t.is((await engine.getToken(bob)).status, 'active');
  t.true((await engine.issueToken('ann')).created, 'ann may queue again');
});

test('a hold takes the seat off the list, lasts holdTtl, and expires exactly at its deadline', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), { config: { ...manual, tokenActiveTtlMs: 3_600_000 } });
  const ann = await activeToken(engine, 'ann');
  const bob = await activeToken(engine, 'bob');
  const hold = await engine.reserve(ann, { scheduleId: 's2', seatNo: 1 });
  t.like(hold, { userId: 'ann', scheduleId: 's2', seatNo: 1, price: 3_000, status: 'held' });
  t.is(hold.createdAt, new Date(START).toISOString());
  t.is(hold.expiresAt, new Date(START + 300_000).toISOString());
  t.deepEqual((await engine.listSeats(ann, 's2')).seats, [
    { seatNo: 2, price: 3_000 },
    { seatNo: 3, price: 2_000 },
    { seatNo: 4, price: 2_000 },
    { seatNo: 5, price: 2_000 },
  ]);
  t.deepEqual(await engine.getReservation(ann, hold.id), hold);
  const own = await rejects(t, engine.reserve(ann, { scheduleId: 's2', seatNo: 1 }), 'SEAT_UNAVAILABLE');
  t.regex(own.message, /you hold it/);
  clock.increment(299_999);
  await rejects(t, engine.reserve(bob, { scheduleId: 's2', seatNo: 1 }), 'SEAT_UNAVAILABLE');
  clock.increment(1);
  t.is((await engine.getReservation(ann, hold.id)).status, 'expired', 'expired with no timer and no step');
  t.is((await engine.stats()).heldSeats, 0);
  t.is((await engine.reserve(bob, { scheduleId: 's2', seatNo: 1 })).status, 'held', 'the stale hold ends as the seat is taken');
  await rejects(t, engine.cancelReservation(ann, hold.id), 'HOLD_EXPIRED');
  await rejects(t, engine.pay(ann, { reservationId: hold.id }), 'HOLD_EXPIRED');
});

test('a tick expires due holds in the database, each at its own deadline', async (t) => {
  const url = await fresh();
  const { engine, clock } = await openEngine(t, url, { config: { ...manual, tokenActiveTtlMs: 3_600_000, holdTtlMs: 60_000 } });
  const ann = await activeToken(engine, 'ann');
  const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  clock.increment(10_000);
  const second = await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
  clock.increment(55_000);
  await engine.tick();
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  const { rows } = await client.query<{ id: string; status: string; ended_at: string | null }>('SELECT id, status, ended_at FROM reservations ORDER BY created_at');
  t.deepEqual(rows, [
    { id: first.id, status: 'expired', ended_at: String(START + 60_000) },
    { id: second.id, status: 'held', ended_at: null },
  ]);
  clock.increment(5_000);
  await engine.sweep();
  t.is((await client.query(`SELECT count(*)::int AS n FROM reservations WHERE status = 'held'`)).rows[0].n, 0);
});

test('unknown schedules and seats are refused; malformed input is a validation error', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const ann = await activeToken(engine, 'ann');
  await rejects(t, engine.reserve(ann, { scheduleId: 'nope', seatNo: 1 }), 'SCHEDULE_NOT_FOUND');
  await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 11 }), 'SEAT_NOT_FOUND');
  for (const seatNo of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
    await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo }), 'VALIDATION_FAILED');
  }
  await rejects(t, engine.reserve(ann, { scheduleId: '', seatNo: 1 }), 'VALIDATION_FAILED');
  await rejects(t, engine.reserve('', { scheduleId: '', seatNo: 1 }), 'VALIDATION_FAILED'); // arguments are checked before the token
  await rejects(t, engine.listSeats(ann, 'nope'), 'SCHEDULE_NOT_FOUND');
  await rejects(t, engine.listSchedules(ann, 'nope'), 'CONCERT_NOT_FOUND');
  await rejects(t, engine.getReservation(ann, 'nope'), 'RESERVATION_NOT_FOUND');
  t.is((await engine.stats()).reservations, 0);
});

test('a user holds at most maxHoldsPerUser seats at once; cancelling frees a place', async (t) => {
  const { engine } = await openEngine(t, await fresh(), { config: { ...manual, maxHoldsPerUser: 2 } });
  const ann = await activeToken(engine, 'ann');
  const bob = await activeToken(engine, 'bob');
  const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
  await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 3 }), 'HOLD_LIMIT_REACHED');
  await rejects(t, engine.cancelReservation(bob, first.id), 'RESERVATION_NOT_FOUND');
  const cancelled = await engine.cancelReservation(ann, first.id);
  t.is(cancelled.status, 'cancelled');
  t.deepEqual(await engine.cancelReservation(ann, first.id), cancelled, 'cancelling twice answers the same');
  t.is((await engine.reserve(ann, { scheduleId: 's1', seatNo: 3 })).status, 'held');
});

test('listings: concerts by id, schedules by start with available seats only, seats ascending', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const ann = await activeToken(engine, 'ann');
  t.deepEqual(await engine.listConcerts(ann), [
    { id: 'c1', title: 'Spring Concert', artist: 'IU', venue: 'Olympic Hall' },
    { id: 'c2', title: 'Autumn Concert' },
  ]);
  t.deepEqual(await engine.listSchedules(ann, 'c1'), [
    { id: 's2', concertId: 'c1', startsAt: '2027-04-30T19:00:00+09:00', totalSeats: 5, availableSeats: 5 },
    { id: 's1', concertId: 'c1', startsAt: '2027-05-01T19:00:00+09:00', totalSeats: 10, availableSeats: 10 },
  ]);
  await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  t.is((await engine.listSchedules(ann, 'c1'))[1]!.availableSeats, 9);
  await engine.reserve(ann, { scheduleId: 's3', seatNo: 1 });
  t.deepEqual(await engine.listSchedules(ann, 'c2'), [], 'a sold-out date is not listed');
  t.deepEqual((await engine.listSeats(ann, 's3')).seats, []);
});

test('loading the same catalog twice adds nothing; conflicting entries are refused', async (t) => {
  const { engine } = await openEngine(t, await fresh(), { catalog: null });
  const { catalog } = await import('./helpers/engines.js');
  t.deepEqual(await engine.loadCatalog(catalog), { concertsAdded: 2, schedulesAdded: 3 });
  t.deepEqual(await engine.loadCatalog(catalog), { concertsAdded: 0, schedulesAdded: 0 });
  const schedule = { id: 's9', concertId: 'c1', startsAt: '2027-12-31T22:00:00Z', totalSeats: 3, price: 10 };
  t.deepEqual(await engine.loadCatalog({ concerts: [], schedules: [schedule] }), { concertsAdded: 0, schedulesAdded: 1 });
  await rejects(t, engine.loadCatalog({ concerts: [{ id: 'c1', title: 'Renamed' }], schedules: [] }), 'VALIDATION_FAILED');
  await rejects(t, engine.loadCatalog({ concerts: {}, schedules: [] } as never), 'VALIDATION_FAILED');
  t.like(await engine.stats(), { concerts: 2, schedules: 4 });
});

test('a payment debits the balance, sells the seat and records the payment; one the balance does not cover changes nothing', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's2', seatNo: 1 });
  await engine.charge(ann, { userId: 'ann', amount: 2_999 });
  const error = await rejects(t, engine.pay(ann, { reservationId: hold.id }), 'INSUFFICIENT_BALANCE');
  t.regex(error.message, /3000.*2999/);
  t.is((await engine.getReservation(ann, hold.id)).status, 'held');
  t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 2_001 }), { userId: 'ann', balance: 5_000 });
  const payment = await engine.pay(ann, { reservationId: hold.id });
  t.like(payment, { reservationId: hold.id, userId: 'ann', amount: 3_000, balance: 2_000, createdAt: new Date(START).toISOString() });
  const again = await activeToken(engine, 'ann');
  t.is((await engine.getReservation(again, hold.id)).status, 'paid');
  t.deepEqual(await engine.getBalance(again, 'ann'), { userId: 'ann', balance: 2_000 });
  await rejects(t, engine.pay(again, { reservationId: hold.id }), 'ALREADY_PAID');
  await rejects(t, engine.cancelReservation(again, hold.id), 'ALREADY_PAID');
  t.like(await engine.stats(), { payments: 1, paidSeats: 1, wallets: 1 });
});

test('charges are checked: integer, 1..maxChargeAmount, balance at most maxBalance, own wallet only', async (t) => {
  const { engine } = await openEngine(t, await fresh(), { config: { ...manual, maxChargeAmount: 1_000, maxBalance: 2_500 } });
  const ann = await activeToken(engine, 'ann');
  for (const amount of [0, -5, 1.5, 1_001, Number.NaN, Infinity, 2 ** 53]) {
    await rejects(t, engine.charge(ann, { userId: 'ann', amount }), 'VALIDATION_FAILED');
  }
  await engine.charge(ann, { userId: 'ann', amount: 1_000 });
  await engine.charge(ann, { userId: 'ann', amount: 1_000 });
  await rejects(t, engine.charge(ann, { userId: 'ann', amount: 501 }), 'BALANCE_LIMIT');
  t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 500 }), { userId: 'ann', balance: 2_500 });
  await rejects(t, engine.charge(ann, { userId: 'bob', amount: 1 }), 'FORBIDDEN');
  await rejects(t, engine.getBalance(ann, 'bob'), 'FORBIDDEN');
});

test('an idempotent charge is applied once and its first answer replayed; a different body is refused', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const ann = await activeToken(engine, 'ann');
  const first = await engine.charge(ann, { userId: 'ann', amount: 700 }, { idempotencyKey: 'charge-1' });
  await engine.charge(ann, { userId: 'ann', amount: 50 });
  const retry = await engine.charge(ann, { userId: 'ann', amount: 700 }, { idempotencyKey: 'charge-1' });
  t.is(JSON.stringify(retry), JSON.stringify(first), 'the same body, keys in the same order');
  t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 750 });
  await rejects(t, engine.charge(ann, { userId: 'ann', amount: 701 }, { idempotencyKey: 'charge-1' }), 'IDEMPOTENCY_KEY_REUSED');
  await rejects(t, engine.charge(ann, { userId: 'ann', amount: 1 }, { idempotencyKey: '' }), 'VALIDATION_FAILED');
  const bob = await activeToken(engine, 'bob');
  t.deepEqual(await engine.charge(bob, { userId: 'bob', amount: 5 }, { idempotencyKey: 'charge-1' }), { userId: 'bob', balance: 5 }, 'keys are per user');
});

test('an idempotent payment is replayed, even after it expired the token; refusals do not use the key up', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await rejects(t, engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-1' }), 'INSUFFICIENT_BALANCE');
  await engine.charge(ann, { userId: 'ann', amount: 1_000 });
  const payment = await engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-1' });
  await rejects(t, engine.listConcerts(ann), 'TOKEN_INVALID');
  t.is(JSON.stringify(await engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-1' })), JSON.stringify(payment));
  await rejects(t, engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-2' }), 'TOKEN_INVALID');
  await rejects(t, engine.pay(ann, { reservationId: 'other' }, { idempotencyKey: 'pay-1' }), 'IDEMPOTENCY_KEY_REUSED');
  await rejects(t, engine.charge(ann, { userId: 'ann', amount: 1 }, { idempotencyKey: 'pay-1' }), 'IDEMPOTENCY_KEY_REUSED');
  const again = await activeToken(engine, 'ann');
  t.deepEqual(await engine.pay(again, { reservationId: hold.id }, { idempotencyKey: 'pay-1' }), payment, 'a new token of the same user replays too');
  t.is((await engine.stats()).payments, 1);
});

test('idempotency keys are kept at least 24 hours, then forgotten by the sweep', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), { config: { ...manual, tokenActiveTtlMs: 3_600_000 } });
  let ann = await activeToken(engine, 'ann');
  await engine.charge(ann, { userId: 'ann', amount: 10 }, { idempotencyKey: 'k' });
  clock.increment(23 * 3_600_000);
  ann = await activeToken(engine, 'ann');
  await engine.sweep();
  t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 10 }, { idempotencyKey: 'k' }), { userId: 'ann', balance: 10 });
  clock.increment(3_600_000);
  ann = await activeToken(engine, 'ann');
  await engine.sweep();
  t.is((await engine.stats()).idempotencyKeys, 0);
  t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 10 }, { idempotencyKey: 'k' }), { userId: 'ann', balance: 20 });
});

test('health is ok, then closing; commands after close are SHUTTING_DOWN; whenFailed stays pending', async (t) => {
  const { engine } = await openEngine(t, await fresh());
  t.deepEqual(engine.health, { status: 'ok' });
  let failed = false;
  void engine.whenFailed.then(() => (failed = true));
  const closing = engine.close();
  t.deepEqual(engine.health, { status: 'closing' });
  await closing;
  await rejects(t, engine.stats(), 'SHUTTING_DOWN');
  await engine.close();
  t.false(failed);
});

test('a user whose token ended before any step noticed gets a new one at once', async (t) => {
  const { engine, clock } = await openEngine(t, await fresh(), { config: { ...manual, queueMaxActive: 1, tokenActiveTtlMs: 60_000, queueWaitingTtlMs: 30_000 } });
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
});
