import test from 'ava';
import pg from 'pg';
import type { StateChange } from '@usher/engine/rules';
import { createDatabase, usePostgres } from '@usher/testkit';
import { APPLY_KINDS, applySql, typedApply } from '../src/applies.js';
import { activeToken, manual, openEngine, settle, START } from './helpers/engines.js';

/**
 * The typed apply paths (migration 006): a decision of reserve, pay, charge
 * or issue is applied by a typed function that restates what the decision
 * assumed, alone or in a batch where each decision stands alone.
 */
const server = usePostgres(test);
const fresh = () => createDatabase(server());

interface Applied {
  o_err: string | null;
  o_msg: string | null;
}

async function connect(t: import('ava').ExecutionContext, url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

/** Runs one typed kind's batch: one array per argument, from one argument list per item. */
async function applyBatch(
  client: pg.Client,
  kind: keyof typeof APPLY_KINDS,
  items: unknown[][],
): Promise<(string | null)[]> {
  const spec = APPLY_KINDS[kind];
  const { rows } = await client.query<Applied>(
    applySql(spec),
    spec.types.map((_, k) => items.map((item) => item[k])),
  );
  return rows.map((row) => row.o_err);
}

test('typed applies whose assumptions no longer hold change nothing, and each decision in a batch stands alone', async (t) => {
  const url = await fresh();
  const { engine } = await openEngine(t, url, {
    config: { ...manual, tokenActiveTtlMs: 3_600_000 },
  });
  const ann = await activeToken(engine, 'ann');
  const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await engine.charge(ann, { userId: 'ann', amount: 5_000 });
  const client = await connect(t, url);
  const tokenExpiry = async () =>
    (
      await client.query<{ expires_at: string }>('SELECT expires_at FROM tokens WHERE token = $1', [
        ann,
      ])
    ).rows[0]!.expires_at;
  const expiry = await tokenExpiry();
  const now = START;
  const hold = (
    id: string,
    seatNo: number,
    held: number,
    extendTo: number | null = null,
    token = ann,
  ) => [
    now,
    'ann',
    token,
    held,
    id,
    's1',
    seatNo,
    1_000,
    'held',
    now,
    now + 60_000,
    null,
    null,
    extendTo,
  ];

  // 1 holds seat 2 (ann held 1); 2 assumed 1 hold, but 1 made it 2; 3 wants a taken seat and would extend the
  // token; 4 carries a token that is not active.
  const holds = await applyBatch(client, 'hold', [
    hold('r2', 2, 1),
    hold('r3', 3, 1),
    hold('r1b', 1, 2, START + 86_400_000),
    hold('r4', 4, 2, null, 'nope'),
  ]);
  t.deepEqual(holds, [null, 'UR409', 'UR409', 'UR409']);
  const seats = await client.query<{ seat_no: number }>(
    `SELECT seat_no FROM reservations WHERE user_id = 'ann' AND status = 'held' ORDER BY seat_no`,
  );
  t.deepEqual(
    seats.rows.map((row) => row.seat_no),
    [1, 2],
    'only the hold whose assumptions held was applied',
  );
  t.is(await tokenExpiry(), expiry, 'the refused hold did not extend the token');

  // A payment read against a balance that has changed: nothing of it stays, not even the token's completion.
  const pay = (balance: number, key: string | null) => [
    now,
    'ann',
    ann,
    2,
    balance,
    first.id,
    now,
    'p1',
    1_000,
    balance - 1_000,
    now,
    key,
    key && '["pay"]',
    key && JSON.stringify({ id: 'p1' }),
    now + 1_000,
  ];
  t.deepEqual(await applyBatch(client, 'pay', [pay(4_000, 'k1')]), ['UR409']);
  const after = await client.query(
    `SELECT
      (SELECT status FROM reservations WHERE id = $1) AS reservation, (SELECT count(*)::int FROM payments) AS payments,
      (SELECT status FROM tokens WHERE token = $2) AS token, (SELECT balance FROM wallets WHERE user_id = 'ann') AS balance,
      (SELECT count(*)::int FROM idempotency_keys) AS keys`,
    [first.id, ann],
  );
  t.deepEqual(after.rows[0], {
    reservation: 'held',
    payments: 0,
    token: 'active',
    balance: '5000',
    keys: 0,
  });

  // Two charges with one key in one batch: the key is applied once. A charge read against an old balance changes nothing.
  const charge = (balance: number, key: string | null) => [
    now,
    'ann',
    ann,
    balance,
    500,
    key,
    key && '["charge"]',
    key && JSON.stringify({ balance: balance + 500 }),
    now,
  ];
  t.deepEqual(
    await applyBatch(client, 'charge', [
      charge(5_000, 'top'),
      charge(5_500, 'top'),
      charge(5_000, null),
    ]),
    [null, 'UR409', 'UR409'],
  );
  const wallet = await client.query(`SELECT balance, charged FROM wallets WHERE user_id = 'ann'`);
  t.deepEqual(wallet.rows[0], { balance: '5500', charged: '5500' });
});

test('two engines pay one hold at once, with different keys: one payment, the balance never below zero', async (t) => {
  const url = await fresh();
  const config = { ...manual, tokenActiveTtlMs: 3_600_000, maxHoldsPerUser: 4 };
  const a = (await openEngine(t, url, { config })).engine;
  const b = (await openEngine(t, url, { config, catalog: null })).engine;
  const ann = await activeToken(a, 'ann');
  const holds = await Promise.all(
    [1, 2].map((seatNo) => a.reserve(ann, { scheduleId: 's1', seatNo })),
  );
  await a.charge(ann, { userId: 'ann', amount: 1_500 });
  // Each hold paid ten times through both engines; the balance covers only one of them.
  const results = await Promise.all(
    holds.flatMap((hold, h) =>
      Array.from({ length: 10 }, (_, i) =>
        settle(
          (i % 2 ? a : b).pay(ann, { reservationId: hold.id }, { idempotencyKey: `pay-${h}-${i}` }),
        ),
      ),
    ),
  );
  t.is(results.filter((result) => result.ok).length, 1, 'exactly one payment');
  t.true(
    results.every(
      (result) =>
        result.ok ||
        ['ALREADY_PAID', 'INSUFFICIENT_BALANCE', 'TOKEN_INVALID'].includes(result.code),
    ),
  );
  const client = await connect(t, url);
  const { rows } = await client.query(
    `SELECT balance, paid, (SELECT count(*)::int FROM payments) AS payments FROM wallets WHERE user_id = 'ann'`,
  );
  t.deepEqual(rows[0], { balance: '500', paid: '1000', payments: 1 });
});

test('two engines issue tokens for one user at once: one live token', async (t) => {
  const url = await fresh();
  const a = (await openEngine(t, url, { config: { ...manual, queueMaxActive: 2 } })).engine;
  const b = (await openEngine(t, url, { config: { ...manual, queueMaxActive: 2 }, catalog: null }))
    .engine;
  const issued = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).issueToken(i < 10 ? 'ann' : 'bob')),
  );
  t.is(
    new Set(issued.slice(0, 10).map((answer) => answer.token.token)).size,
    1,
    'ann has one token',
  );
  t.is(new Set(issued.slice(10).map((answer) => answer.token.token)).size, 1, 'bob has one token');
  t.is(issued.filter((answer) => answer.created).length, 2);
});

const reserveChanges: StateChange[] = [
  { type: 'reservationEnded', id: 'old', status: 'expired', at: 5 },
  {
    type: 'reservationHeld',
    reservation: {
      id: 'r',
      userId: 'ann',
      scheduleId: 's',
      seatNo: 3,
      price: 100,
      status: 'held',
      createdAt: 10,
      expiresAt: 70,
    },
  },
  { type: 'tokenExtended', token: 't', expiresAt: 70 },
];

test('a decision maps to a typed apply only in the shapes the typed functions take', (t) => {
  const hold = typedApply(reserveChanges, 10, { userId: 'ann', token: 't', heldByUser: 1 });
  t.is(hold?.kind, APPLY_KINDS.hold);
  t.deepEqual(hold?.args, [10, 'ann', 't', 1, 'r', 's', 3, 100, 'held', 10, 70, 'old', 5, 70]);
  t.is(hold?.args.length, APPLY_KINDS.hold.types.length);
  // Anything else goes to the generic usher_apply: an extra change, another user's hold, a cancel, a missing assumption.
  t.is(
    typedApply([...reserveChanges, { type: 'walletCredited', userId: 'ann', amount: 1 }], 10, {
      userId: 'ann',
      token: 't',
      heldByUser: 1,
    }),
    undefined,
  );
  t.is(typedApply(reserveChanges, 10, { userId: 'bob', token: 't', heldByUser: 1 }), undefined);
  t.is(typedApply(reserveChanges, 10, { userId: 'ann', token: 't' }), undefined);
  t.is(
    typedApply([{ type: 'reservationEnded', id: 'r', status: 'cancelled', at: 10 }], 10, {
      userId: 'ann',
      token: 't',
    }),
    undefined,
  );
  const charge = typedApply([{ type: 'walletCredited', userId: 'ann', amount: 5 }], 10, {
    userId: 'ann',
    token: 't',
    balance: 0,
  });
  t.deepEqual(charge?.args, [10, 'ann', 't', 0, 5, null, null, null, null]);
  t.is(
    typedApply([{ type: 'walletCredited', userId: 'bob', amount: 5 }], 10, {
      userId: 'ann',
      token: 't',
      balance: 0,
    }),
    undefined,
  );
});
