import test from 'ava';
import { invariantViolations } from '@usher/engine';
import { createPostgresEngine, readContents } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';
import { Database, until } from './processes/database.js';
import { EngineProcess } from './processes/engineProcess.js';

/**
 * SPEC §11 "nothing is offered twice after a restart or failover": holds
 * expire in waves while 15 users wait for 30 seats; the keeper's process is
 * SIGKILLed mid-way (its expiry and offers are one transaction: committed or
 * not at all); another takes over. Every seat is offered exactly once, every
 * user gets exactly what they asked for, and no seat is ever in two live holds.
 */
const server = usePostgres(test);
const HOLD_TTL = 2_000;
const SEATS = 30;
const config = {
  queueTickMs: 100,
  queueAdmitPerTick: 1_000,
  queueMaxActive: 1_000,
  tokenActiveTtlMs: 600_000,
  queueWaitingTtlMs: 600_000,
  holdTtlMs: HOLD_TTL,
  holdSweepMs: 3_600_000,
  maxHoldsPerUser: 10,
  maxTicketsPerUser: 10,
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the keeper killed while holds expire into a waitlist: the next keeper goes on, no seat is offered twice', async (t) => {
  const url = await createDatabase(server());
  const db = new Database(url);
  t.teardown(() => db.close());
  const engine = await createPostgresEngine({ connectionString: url, config, keeper: false });
  t.teardown(() => engine.close());
  await engine.loadCatalog({
    concerts: [{ id: 'c', title: 'Failover' }],
    schedules: [
      { id: 'f', concertId: 'c', startsAt: '2027-01-01T19:00:00Z', totalSeats: SEATS, price: 100 },
    ],
  });
  const first = await EngineProcess.start({ connectionString: url, config });
  t.teardown(() => first.stop());
  await until('the first process to be the keeper', 10_000, () => first.isKeeper(), 50);
  const second = await EngineProcess.start({ connectionString: url, config });
  t.teardown(() => second.stop());
  t.false(await second.isKeeper());

  const holders = Array.from({ length: SEATS }, (_, i) => `h${i}`);
  const waiters = Array.from({ length: SEATS / 2 }, (_, i) => `w${i}`);
  const tokens = await first.activate([...holders, ...waiters]);
  // Three waves of holds, 300 ms apart: they expire in three waves too.
  const started = Date.now();
  for (let wave = 0; wave < 3; wave++) {
    await Promise.all(
      holders.slice(wave * 10, wave * 10 + 10).map((_, k) => {
        const i = wave * 10 + k;
        return engine.reserve(tokens[i]!, { scheduleId: 'f', seatNo: i + 1 });
      }),
    );
    if (wave < 2) await sleep(300 - ((Date.now() - started) % 300));
  }
  // Fifteen users wait for two seats each, in order.
  for (const [k, user] of waiters.entries()) {
    const entry = await engine.joinWaitlist(tokens[SEATS + k]!, 'f', { quantity: 2 });
    t.is(entry.position, k + 1, user);
  }
  t.true(Date.now() - started < HOLD_TTL, 'the setup took less than a hold lives');

  // Mid-way through the expiries (the first wave's offered, the last one's not yet): the keeper dies.
  await sleep(Math.max(0, started + HOLD_TTL + 350 - Date.now()));
  await first.kill();
  const killedAt = Date.now();
  const before = await db.rows(`SELECT 1 FROM reservations WHERE origin = 'waitlist'`);
  await until(
    'every waiting user offered their seats',
    20_000,
    async () => (await db.rows('SELECT 1 FROM waitlist')).length === 0,
    50,
  );
  t.true(await second.isKeeper(), 'the second process took over');
  t.log(
    `keeper killed ${killedAt - started} ms after the first hold, with ${before.length} holds offered; the next served the rest`,
  );

  const offered = await db.rows<{ user_id: string; seats: number[]; created_at: string }>(
    `SELECT r.user_id, array_agg(s.seat_no ORDER BY s.seat_no) AS seats, r.created_at
       FROM reservations r JOIN reservation_seats s ON s.reservation_id = r.id
      WHERE r.origin = 'waitlist' GROUP BY r.id ORDER BY r.created_at, r.id`,
  );
  const bySeat = new Map<number, number>();
  const byUser = new Map<string, number>();
  for (const row of offered) {
    for (const seat of row.seats) bySeat.set(seat, (bySeat.get(seat) ?? 0) + 1);
    byUser.set(row.user_id, (byUser.get(row.user_id) ?? 0) + row.seats.length);
  }
  t.is(bySeat.size, SEATS, 'every seat offered');
  t.deepEqual(
    [...bySeat].filter(([, n]) => n !== 1),
    [],
    'no seat offered twice',
  );
  t.deepEqual(
    waiters.map((user) => byUser.get(user)),
    waiters.map(() => 2),
  );
  // Offers went in order of the list: a later user's first offer never came before an earlier one's.
  const firstOffer = waiters.map((user) =>
    Math.min(...offered.filter((row) => row.user_id === user).map((row) => Number(row.created_at))),
  );
  t.deepEqual(
    [...firstOffer].sort((x, y) => x - y),
    firstOffer,
  );
  t.deepEqual(invariantViolations(await readContents(url)), []);
});
