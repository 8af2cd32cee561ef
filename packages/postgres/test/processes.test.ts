import test from 'ava';
import type { CatalogInput, Payment, Reservation, Wallet } from '@usher/engine';
import { createDatabase, usePostgres } from '@usher/testkit';
import { assertInvariants, Database, random } from './processes/database.js';
import { EngineProcess, type Outcome } from './processes/engineProcess.js';

/**
 * Two engine PROCESSES over one database (SPEC §8): each is a child process
 * with its own pool, keeper timers and LISTEN connection, on the wall clock.
 * Only PostgreSQL can settle their races; the database is checked afterwards.
 */
const server = usePostgres(test);

const config = {
  queueTickMs: 100,
  queueAdmitPerTick: 1_000,
  queueMaxActive: 2_000,
  tokenActiveTtlMs: 600_000,
  maxHoldsPerUser: 8,
  // Orders (SPEC §10) are not what these tests are about: no ticket limit in the way.
  maxTicketsPerUser: 10_000,
};

const catalog: CatalogInput = {
  concerts: [{ id: 'c', title: 'Two Processes' }],
  schedules: [
    { id: 's', concertId: 'c', startsAt: '2027-01-01T19:00:00Z', totalSeats: 50, price: 700 },
    { id: 'm', concertId: 'c', startsAt: '2027-01-02T19:00:00Z', totalSeats: 200, price: 700 },
  ],
};

async function twoProcesses(
  t: import('ava').ExecutionContext,
): Promise<{ url: string; db: Database; a: EngineProcess; b: EngineProcess }> {
  const url = await createDatabase(server());
  const db = new Database(url);
  t.teardown(() => db.close());
  // Started together: both apply the migrations (one waits for the other) and compete for the keeper's seat.
  const [a, b] = await Promise.all([
    EngineProcess.start({ connectionString: url, config }),
    EngineProcess.start({ connectionString: url, config }),
  ]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  t.not(a.pid, b.pid);
  t.is(
    [await a.isKeeper(), await b.isKeeper()].filter(Boolean).length <= 1,
    true,
    'at most one keeper',
  );
  await a.must('loadCatalog', catalog);
  return { url, db, a, b };
}

test.serial(
  '500 holds at once from two processes on 50 seats: exactly 50 succeed, the rest SEAT_UNAVAILABLE, one live reservation per seat',
  async (t) => {
    const { db, a, b } = await twoProcesses(t);
    const users = Array.from({ length: 500 }, (_, i) => `u${i}`);
    // Even users through a, odd ones through b; each process's users try every seat five times.
    const [evenTokens, oddTokens] = await Promise.all([
      a.activate(users.filter((_, i) => i % 2 === 0)),
      b.activate(users.filter((_, i) => i % 2 === 1)),
    ]);
    const seatOf = (i: number) => ((i >> 1) % 50) + 1;
    const calls = (tokens: string[], parity: number) =>
      tokens.map(
        (token, k) =>
          ['reserve', token, { scheduleId: 's', seatNo: seatOf(2 * k + parity) }] as const,
      );
    const at = Date.now() + 300;
    const started = performance.now();
    const [fromA, fromB] = await Promise.all([
      a.batch<Reservation>(calls(evenTokens, 0), { at }),
      b.batch<Reservation>(calls(oddTokens, 1), { at }),
    ]);
    t.log(
      `500 holds from two processes answered in ${Math.round(performance.now() - started - 300)} ms`,
    );

    const results = [...fromA, ...fromB];
    const won = results.flatMap((result) => (result.ok ? [result.value] : []));
    const refused = results.flatMap((result) => (result.ok ? [] : [result.code]));
    for (const result of results)
      if (!result.ok && result.code !== 'SEAT_UNAVAILABLE')
        t.log(`refused: ${result.code} ${result.message}`);
    t.is(won.length, 50, 'exactly one hold per seat');
    t.deepEqual(
      [...new Set(refused)],
      ['SEAT_UNAVAILABLE'],
      'every other attempt is SEAT_UNAVAILABLE',
    );
    t.is(refused.length, 450);
    t.log(
      `seats won through the first process: ${fromA.filter((result) => result.ok).length}, through the second: ${fromB.filter((result) => result.ok).length}`,
    );
    t.deepEqual(
      won.map((hold) => hold.seatNo).sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i + 1),
      'each seat won once',
    );

    const rows = await db.rows<{ id: string; user_id: string; seat_no: number; status: string }>(
      `SELECT id, user_id, seat_no, status FROM reservations WHERE schedule_id = 's' ORDER BY seat_no`,
    );
    t.is(rows.length, 50, 'no reservation besides the 50 answered');
    t.true(rows.every((row) => row.status === 'held'));
    t.deepEqual(
      rows.map((row) => `${row.seat_no}:${row.id}:${row.user_id}`),
      [...won]
        .sort((x, y) => x.seatNo - y.seatNo)
        .map((hold) => `${hold.seatNo}:${hold.id}:${hold.userId}`),
      'the database holds exactly the answered holds',
    );
    // What either process shows agrees.
    t.deepEqual((await b.must<{ seats: unknown[] }>('listSeats', oddTokens[0], 's')).seats, []);
    t.deepEqual((await a.must<{ seats: unknown[] }>('listSeats', evenTokens[0], 's')).seats, []);
    await assertInvariants(t, db);
  },
);

test.serial(
  'charges and payments on shared wallets from two processes at once: money exact, never negative',
  async (t) => {
    const seed = Number(process.env['PROCESSES_SEED'] ?? Date.now() % 1_000_000);
    t.log(`seed ${seed} (PROCESSES_SEED=${seed} replays the amounts and the order of the calls)`);
    const next = random(seed);
    const { db, a, b } = await twoProcesses(t);
    const users = Array.from({ length: 20 }, (_, i) => `w${i}`);
    // One token per user, used from both processes (an engine instance keeps no session).
    const tokens = await a.activate(users);
    // Six holds each; five will be paid, so no token completes and charges stay possible throughout.
    const holds = new Map<string, Reservation[]>();
    for (const [i, userId] of users.entries()) {
      const mine = await (i % 2 ? a : b).batch<Reservation>(
        Array.from(
          { length: 6 },
          (_, k) => ['reserve', tokens[i], { scheduleId: 'm', seatNo: i * 6 + k + 1 }] as const,
        ),
      );
      holds.set(
        userId,
        mine.map((result) => {
          if (!result.ok) throw new Error(`hold: ${result.code} ${result.message}`);
          return result.value;
        }),
      );
    }

    type Call = {
      readonly kind: 'charge' | 'pay';
      readonly userId: string;
      readonly key: string;
      readonly amount: number;
      readonly call: readonly [string, ...unknown[]];
    };
    const forA: Call[] = [];
    const forB: Call[] = [];
    const payCalls: Call[] = [];
    const funds: Call[] = [];
    for (const [i, userId] of users.entries()) {
      const token = tokens[i];
      // The first charge (enough for two seats) lands before the rest; the others race the payments.
      const fund = {
        kind: 'charge' as const,
        userId,
        key: `charge-${userId}-fund`,
        amount: 1_400,
        call: [
          'charge',
          token,
          { userId, amount: 1_400 },
          { idempotencyKey: `charge-${userId}-fund` },
        ] as const,
      };
      funds.push(fund);
      for (let k = 0; k < 10; k++) {
        const amount = 100 + Math.floor(next() * 900);
        const key = `charge-${userId}-${k}`;
        const call = {
          kind: 'charge' as const,
          userId,
          key,
          amount,
          call: ['charge', token, { userId, amount }, { idempotencyKey: key }] as const,
        };
        // Most go to one process; every third to both at once (the same key: applied once).
        if (k % 3 === 0) (forA.push(call), forB.push(call));
        else (next() < 0.5 ? forA : forB).push(call);
      }
      for (const hold of holds.get(userId)!.slice(0, 5)) {
        const key = `pay-${hold.id}`;
        const call = {
          kind: 'pay' as const,
          userId,
          key,
          amount: hold.price,
          call: ['pay', token, { reservationId: hold.id }, { idempotencyKey: key }] as const,
        };
        payCalls.push(call);
      }
    }
    const answered: [Call, Outcome][] = [];
    const funded = await a.batch(funds.map((call) => call.call));
    answered.push(...funds.map((call, i) => [call, funded[i]!] as [Call, Outcome]));
    // Every payment from both processes at once, under one key.
    forA.push(...payCalls);
    forB.push(...payCalls);
    const shuffle = <T>(list: T[]) => {
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
      return list;
    };
    shuffle(forA);
    shuffle(forB);
    const at = Date.now() + 300;
    const [fromA, fromB] = await Promise.all([
      a.batch(
        forA.map((call) => call.call),
        { at },
      ),
      b.batch(
        forB.map((call) => call.call),
        { at },
      ),
    ]);
    answered.push(
      ...forA.map((call, i) => [call, fromA[i]!] as [Call, Outcome]),
      ...forB.map((call, i) => [call, fromB[i]!] as [Call, Outcome]),
    );
    // Then the payments refused for want of money, again from both processes at once, under their keys.
    const again = payCalls.filter((call) =>
      answered.every(([other, outcome]) => other !== call || !outcome.ok),
    );
    const at2 = Date.now() + 300;
    const [againA, againB] = await Promise.all([
      a.batch(
        again.map((call) => call.call),
        { at: at2 },
      ),
      b.batch(
        again.map((call) => call.call),
        { at: at2 },
      ),
    ]);
    answered.push(
      ...again.map((call, i) => [call, againA[i]!] as [Call, Outcome]),
      ...again.map((call, i) => [call, againB[i]!] as [Call, Outcome]),
    );

    const chargedKeys = new Map<string, { userId: string; amount: number; wallet: Wallet }>();
    const payments = new Map<string, Payment>();
    const refusals = new Map<string, number>();
    for (const [call, outcome] of answered) {
      if (!outcome.ok) {
        refusals.set(
          `${call.kind} ${outcome.code}`,
          (refusals.get(`${call.kind} ${outcome.code}`) ?? 0) + 1,
        );
        // A charge has nothing to refuse here; a payment only a balance too low at that moment.
        t.true(
          call.kind === 'pay' && outcome.code === 'INSUFFICIENT_BALANCE',
          `${call.kind} ${call.key}: ${outcome.code} ${outcome.message}`,
        );
        continue;
      }
      if (call.kind === 'charge') {
        const wallet = outcome.value as Wallet;
        const before = chargedKeys.get(call.key);
        if (before)
          t.deepEqual(wallet, before.wallet, `a retry of ${call.key} replays the first answer`);
        chargedKeys.set(call.key, { userId: call.userId, amount: call.amount, wallet });
      } else {
        const payment = outcome.value as Payment;
        t.true(payment.balance >= 0);
        const before = [...payments.values()].find(
          (other) => other.reservationId === payment.reservationId,
        );
        if (before)
          t.is(
            payment.id,
            before.id,
            `the two payments of ${payment.reservationId} under one key are one payment`,
          );
        payments.set(payment.id, payment);
      }
    }
    t.log(
      `${answered.length} calls; ${chargedKeys.size} charges and ${payments.size} payments acknowledged; refused: ${JSON.stringify(Object.fromEntries(refusals))}`,
    );
    t.is(chargedKeys.size, 220, 'every charge was acknowledged');
    t.true(payments.size > 40, 'the funds covered more than two payments per user');

    const wallets = await assertInvariants(t, db);
    for (const userId of users) {
      const charged = [...chargedKeys.values()]
        .filter((charge) => charge.userId === userId)
        .reduce((sum, charge) => sum + charge.amount, 0);
      const paid = [...payments.values()]
        .filter((payment) => payment.userId === userId)
        .reduce((sum, payment) => sum + payment.amount, 0);
      t.like(
        wallets.get(userId),
        { charged, paid, balance: charged - paid },
        `wallet of ${userId}: Σ acknowledged charges − Σ acknowledged payments`,
      );
    }
    // Nothing that was not acknowledged was applied: every key and payment in the database was answered.
    const keys = await db.rows<{ key: string }>(
      `SELECT key FROM idempotency_keys WHERE key LIKE 'charge-%'`,
    );
    t.deepEqual(keys.map((row) => row.key).sort(), [...chargedKeys.keys()].sort());
    const paymentRows = await db.rows<{ id: string }>(`SELECT id FROM payments`);
    t.deepEqual(paymentRows.map((row) => row.id).sort(), [...payments.keys()].sort());
    // Both processes read the same balances.
    for (const [i, userId] of users.entries()) {
      const [viaA, viaB] = await Promise.all([
        a.must<Wallet>('getBalance', tokens[i], userId),
        b.must<Wallet>('getBalance', tokens[i], userId),
      ]);
      t.deepEqual(viaA, viaB);
      t.is(viaA.balance, wallets.get(userId)?.balance ?? -1);
    }
  },
);
