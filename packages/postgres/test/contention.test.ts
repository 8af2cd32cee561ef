import test from 'ava';
import pg from 'pg';
import { createPostgresEngine, migrate, migrations } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';
import {
  activeToken,
  manual,
  openEngine,
  rejects,
  settle,
  simulatedClock,
} from './helpers/engines.js';

/** Every migration, in order: each must be applied exactly once. */
const versions = migrations.map((migration) => migration.version);

/**
 * Races that PostgreSQL settles: many engines over one database, each
 * command deciding on what it read and writing only if that still holds.
 */
const server = usePostgres(test);
const config = { ...manual, queueMaxActive: 1_000, maxChargeAmount: 5_000 };

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** SPEC §5 invariants 1 and 2 on what the database holds. */
async function assertInvariants(t: import('ava').ExecutionContext, url: string): Promise<void> {
  const doubles = await query(
    url,
    `SELECT schedule_id, seat_no FROM reservation_seats WHERE status IN ('held', 'paid') GROUP BY 1, 2 HAVING count(*) > 1`,
  );
  t.deepEqual(doubles, [], 'no seat is held or sold twice');
  const wallets = await query<{
    user_id: string;
    balance: string;
    charged: string;
    paid: string;
    payments: string;
  }>(
    url,
    `SELECT w.user_id, w.balance, w.charged, w.paid, coalesce((SELECT sum(amount) FROM payments p WHERE p.user_id = w.user_id), 0) AS payments FROM wallets w`,
  );
  for (const wallet of wallets) {
    t.true(Number(wallet.balance) >= 0);
    t.is(
      Number(wallet.balance),
      Number(wallet.charged) - Number(wallet.paid),
      `wallet of ${wallet.user_id} balances`,
    );
    t.is(Number(wallet.paid), Number(wallet.payments), `payments of ${wallet.user_id} add up`);
  }
  const unpaid = await query(
    url,
    `SELECT p.id FROM payments p JOIN reservations r ON r.id = p.reservation_id WHERE r.status <> 'paid'`,
  );
  t.deepEqual(unpaid, []);
}

test('migrations applied by many engines starting at once run once', async (t) => {
  const url = await createDatabase(server());
  const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url, max: 2 }));
  t.teardown(() => Promise.all(pools.map((pool) => pool.end())));
  const applied = await Promise.all(pools.map((pool) => migrate(pool)));
  t.deepEqual(
    applied.flat().sort((a, b) => a - b),
    versions,
    'each migration was applied by exactly one of them',
  );
  t.deepEqual(await Promise.all(pools.map((pool) => migrate(pool))), [[], [], [], []]);
  const rows = await query<{ version: number }>(
    url,
    'SELECT version FROM usher_migrations ORDER BY version',
  );
  t.deepEqual(
    rows.map((row) => row.version),
    versions,
  );
  // And engines starting at once on a fresh database.
  const other = await createDatabase(server());
  const engines = await Promise.all(
    Array.from({ length: 3 }, () =>
      createPostgresEngine({ connectionString: other, config: manual, clock: simulatedClock() }),
    ),
  );
  t.teardown(() => Promise.all(engines.map((engine) => engine.close())));
  t.is(
    (await query<{ n: number }>(other, 'SELECT count(*)::int AS n FROM usher_migrations'))[0]!.n,
    versions.length,
  );
});

test('500 users on three engines race for one seat: exactly one hold, everyone else SEAT_UNAVAILABLE', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const engines = [
    (await openEngine(t, url, { config, clock })).engine,
    (await openEngine(t, url, { config, clock, catalog: null })).engine,
    (await openEngine(t, url, { config, clock, catalog: null })).engine,
  ];
  const tokens: string[] = [];
  for (let i = 0; i < 500; i++) tokens.push(await activeToken(engines[i % 3]!, `u${i}`));
  const results = await Promise.all(
    tokens.map((token, i) =>
      settle(engines[i % 3]!.reserve(token, { scheduleId: 's3', seatNo: 1 })),
    ),
  );
  t.is(results.filter((result) => result.ok).length, 1);
  t.is(results.filter((result) => !result.ok && result.code === 'SEAT_UNAVAILABLE').length, 499);
  await assertInvariants(t, url);
});

test('holds on 16 seats from 300 users at once: each seat held once, and no user over maxHoldsPerUser', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const a = (await openEngine(t, url, { config: { ...config, maxHoldsPerUser: 2 }, clock })).engine;
  const b = (
    await openEngine(t, url, { config: { ...config, maxHoldsPerUser: 2 }, clock, catalog: null })
  ).engine;
  const tokens: string[] = [];
  for (let i = 0; i < 100; i++) tokens.push(await activeToken(i % 2 ? a : b, `u${i}`));
  const seats = [
    ...Array.from({ length: 10 }, (_, i) => ({ scheduleId: 's1', seatNo: i + 1 })),
    ...Array.from({ length: 5 }, (_, i) => ({ scheduleId: 's2', seatNo: i + 1 })),
    { scheduleId: 's3', seatNo: 1 },
  ];
  // Every user tries three seats at once, through both engines.
  const attempts = tokens.flatMap((token, i) =>
    [0, 1, 2].map((k) =>
      settle((k % 2 ? a : b).reserve(token, seats[(i * 7 + k * 5) % seats.length]!)),
    ),
  );
  const results = await Promise.all(attempts);
  t.true(
    results.every(
      (result) =>
        result.ok || result.code === 'SEAT_UNAVAILABLE' || result.code === 'HOLD_LIMIT_REACHED',
    ),
  );
  const held = await query<{ user_id: string; n: number }>(
    url,
    `SELECT user_id, count(*)::int AS n FROM reservations WHERE status = 'held' GROUP BY 1`,
  );
  t.is(
    held.reduce((sum, row) => sum + row.n, 0),
    seats.length,
    'every seat held exactly once',
  );
  t.true(
    held.every((row) => row.n <= 2),
    'nobody holds more than maxHoldsPerUser',
  );
  t.is(results.filter((result) => result.ok).length, seats.length);
  await assertInvariants(t, url);
});

test('concurrent charges and payments on one wallet through two engines: money exact, never negative', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const a = (
    await openEngine(t, url, {
      config: { ...config, maxHoldsPerUser: 10, maxTicketsPerUser: 10 },
      clock,
    })
  ).engine;
  const b = (
    await openEngine(t, url, {
      config: { ...config, maxHoldsPerUser: 10, maxTicketsPerUser: 10 },
      clock,
      catalog: null,
    })
  ).engine;
  const ann = await activeToken(a, 'ann');
  const holds = await Promise.all(
    Array.from({ length: 10 }, (_, i) => a.reserve(ann, { scheduleId: 's1', seatNo: i + 1 })),
  );
  await a.charge(ann, { userId: 'ann', amount: 3_500 });
  // 10 payments of 1,000 and 20 charges of 250, all at once, with retries of the same keys.
  const payments = holds.flatMap((hold, i) => [
    settle((i % 2 ? a : b).pay(ann, { reservationId: hold.id }, { idempotencyKey: `pay-${i}` })),
    settle((i % 2 ? b : a).pay(ann, { reservationId: hold.id }, { idempotencyKey: `pay-${i}` })),
  ]);
  const charges = Array.from({ length: 20 }, (_, i) =>
    settle(
      (i % 2 ? a : b).charge(
        ann,
        { userId: 'ann', amount: 250 },
        { idempotencyKey: `top-${i % 10}` },
      ),
    ),
  );
  const [paid, charged] = await Promise.all([Promise.all(payments), Promise.all(charges)]);
  for (const result of [...paid, ...charged]) {
    t.true(
      result.ok || result.code === 'INSUFFICIENT_BALANCE' || result.code === 'TOKEN_INVALID',
      result.ok ? '' : result.code,
    );
  }
  const paymentIds = new Set(paid.flatMap((result) => (result.ok ? [result.value.id] : [])));
  const [wallet] = await query<{ balance: string; charged: string; paid: string }>(
    url,
    `SELECT balance, charged, paid FROM wallets WHERE user_id = 'ann'`,
  );
  t.is(Number(wallet!.charged), 3_500 + 10 * 250, 'each charge key applied once');
  t.is(Number(wallet!.paid), paymentIds.size * 1_000, 'each answered payment applied once');
  t.is(Number(wallet!.balance), Number(wallet!.charged) - Number(wallet!.paid));
  t.true(Number(wallet!.balance) >= 0);
  t.true(paymentIds.size >= 3, 'the first balance covered at least three payments');
  await assertInvariants(t, url);
});

test('admission never passes maxActive, whichever engines issue and tick', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const small = { ...manual, queueMaxActive: 5, queueAdmitPerTick: 3, tokenActiveTtlMs: 60_000 };
  const engines = [
    (await openEngine(t, url, { config: small, clock })).engine,
    (await openEngine(t, url, { config: small, clock, catalog: null })).engine,
  ];
  const issued = await Promise.all(
    Array.from({ length: 40 }, (_, i) => engines[i % 2]!.issueToken(`u${i}`)),
  );
  t.is(
    issued.filter((answer) => answer.token.status === 'active').length,
    5,
    'at once only while there is room',
  );
  const waiting = issued
    .filter((answer) => answer.token.status === 'waiting')
    .map((answer) => answer.token);
  t.deepEqual(
    waiting.map((token) => token.position).sort((x, y) => x! - y!),
    waiting.map((_, i) => i + 1),
    'positions are exact and distinct',
  );
  const admittedOrder: string[] = [];
  for (let round = 0; round < 20; round++) {
    clock.increment(30_000);
    await Promise.all(engines.map((engine) => engine.tick()));
    const active = (await engines[round % 2]!.stats()).activeTokens;
    t.true(active <= 5, `round ${round}: ${active} active`);
    const now = [];
    for (const token of waiting) {
      if (admittedOrder.includes(token.token)) continue;
      const view = await engines[round % 2]!.getToken(token.token).catch(() => undefined);
      if (view?.status === 'active') now.push(token);
    }
    // Admitted in the same round: in the order of the positions they were given.
    admittedOrder.push(
      ...now.sort((x, y) => x.position! - y.position!).map((token) => token.token),
    );
  }
  const byLine = [...waiting].sort((x, y) => x.position! - y.position!).map((token) => token.token);
  t.deepEqual(admittedOrder, byLine.slice(0, admittedOrder.length), 'admitted in line order');
  t.true(admittedOrder.length > 10);
  await rejects(t, engines[0]!.reserve('nope', { scheduleId: 's1', seatNo: 1 }), 'TOKEN_INVALID');
});
