import test from 'ava';
import pg from 'pg';
import type { StateChange } from '@usher/engine/rules';
import { createDatabase, usePostgres } from '@usher/testkit';
import { applyAll, type ApplyCall, type ApplyKind } from '../src/applies.js';
import { CATALOG, catalogApply } from '../src/commands/catalog.js';
import {
  CANCEL,
  CANCEL_OFFERS,
  cancelApply,
  EXTEND,
  EXTEND_OFFER,
  extendApply,
  HOLD,
  holdApply,
  ORDER,
  orderApply,
} from '../src/commands/holds.js';
import { CODE_ISSUE, ISSUE, issueApply } from '../src/commands/issueToken.js';
import { PAY, PAY_OFFER, PAY_TICKETS, payApply } from '../src/commands/pay.js';
import {
  CHECK_IN,
  checkInApply,
  REFUND_OFFERS,
  refundApply,
  TRANSFER,
  transferApply,
} from '../src/commands/tickets.js';
import { CHARGE, chargeApply } from '../src/commands/wallet.js';
import { JOIN, joinApply, LEAVE, leaveApply } from '../src/commands/waitlist.js';
import { activeToken, manual, openEngine, settle, START } from './helpers/engines.js';

/**
 * The applies (migration 1, `applies.ts`): a decision of reserve, cancel,
 * pay, charge, issue or loadCatalog is applied by `usher_apply(<kind>)`,
 * whose named fields restate what the decision assumed, alone or in a batch
 * where each decision stands alone.
 */
const server = usePostgres(test);
const fresh = () => createDatabase(server());

async function connect(t: import('ava').ExecutionContext, url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

/** Runs one kind's batch; the SQLSTATE of each item that was refused. */
async function applyBatch<A>(client: pg.Client, kind: ApplyKind<A>, items: A[]) {
  const calls: ApplyCall[] = items.map((args) => ({ kind, user: 'ann', args }));
  const outcomes = await applyAll(client, kind, calls);
  return outcomes.map((outcome) =>
    outcome.ok ? null : ((outcome.error as { code?: string }).code ?? 'error'),
  );
}

test('applies whose assumptions no longer hold change nothing, and each decision in a batch stands alone', async (t) => {
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
  ) => ({
    now,
    user_id: 'ann',
    token,
    held,
    id,
    schedule_id: 's1',
    seat_no: seatNo,
    price: 1_000,
    status: 'held',
    created_at: now,
    expires_at: now + 60_000,
    stale_id: null,
    stale_at: null,
    extend_to: extendTo,
  });

  // 1 holds seat 2 (ann held 1); 2 assumed 1 hold, but 1 made it 2; 3 wants a taken seat and would extend the
  // token; 4 carries a token that is not active.
  const holds = await applyBatch(client, HOLD, [
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
  const pay = (balance: number, key: string | null) => ({
    now,
    user_id: 'ann',
    token: ann,
    held: 2,
    balance,
    reservation_id: first.id,
    paid_at: now,
    payment_id: 'p1',
    amount: 1_000,
    new_balance: balance - 1_000,
    created_at: now,
    key,
    fingerprint: key && '["pay"]',
    result: key && { id: 'p1' },
    keep_until: now + 1_000,
  });
  t.deepEqual(await applyBatch(client, PAY, [pay(4_000, 'k1')]), ['UR409']);
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
  const charge = (balance: number, key: string | null) => ({
    now,
    user_id: 'ann',
    token: ann,
    balance,
    amount: 500,
    key,
    fingerprint: key && '["charge"]',
    result: key && { balance: balance + 500 },
    created_at: key === null ? null : now,
  });
  t.deepEqual(
    await applyBatch(client, CHARGE, [
      charge(5_000, 'top'),
      charge(5_500, 'top'),
      charge(5_000, null),
    ]),
    [null, 'UR409', 'UR409'],
  );
  const wallet = await client.query(`SELECT balance, charged FROM wallets WHERE user_id = 'ann'`);
  t.deepEqual(wallet.rows[0], { balance: '5500', charged: '5500' });

  // A cancel of a hold that is no longer live changes nothing.
  const cancel = (id: string) => ({
    now,
    user_id: 'ann',
    token: ann,
    reservation_id: id,
    status: 'cancelled',
    at: now,
  });
  t.deepEqual(await applyBatch(client, CANCEL, [cancel('r2'), cancel('r2'), cancel('none')]), [
    null,
    'UR409',
    'UR409',
  ]);
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

test("a decision becomes its apply's named fields; changes its apply does not carry out are refused, not half-applied", (t) => {
  const decision = (changes: StateChange[]) => ({ changes, answer: null });
  t.deepEqual(holdApply(decision(reserveChanges), 10, 't', 1)?.args, {
    now: 10,
    user_id: 'ann',
    token: 't',
    held: 1,
    id: 'r',
    schedule_id: 's',
    seat_no: 3,
    price: 100,
    status: 'held',
    created_at: 10,
    expires_at: 70,
    stale_id: 'old',
    stale_at: 5,
    extend_to: 70,
  });
  t.throws(
    () =>
      holdApply(
        decision([...reserveChanges, { type: 'walletCredited', userId: 'ann', amount: 1 }]),
        10,
        't',
        1,
      ),
    { message: /is not what this apply carries out/ },
  );
  t.throws(() => holdApply(decision([reserveChanges[1]!, reserveChanges[1]!]), 10, 't', 1));
  t.is(holdApply(decision([]), 10, 't', 1), undefined);
  // An order's apply: every seat, the sum, and every stale hold on its seats.
  t.deepEqual(
    orderApply(
      decision([
        ...reserveChanges,
        { type: 'reservationEnded', id: 'older', status: 'expired', at: 4 },
      ]),
      10,
      't',
      1,
      2,
    )?.args,
    {
      now: 10,
      user_id: 'ann',
      token: 't',
      held: 1,
      tickets: 2,
      id: 'r',
      schedule_id: 's',
      seat_no: 3,
      price: 100,
      seats: [{ seatNo: 3, price: 100 }],
      amount: 100,
      status: 'held',
      created_at: 10,
      expires_at: 70,
      stale_ids: ['old', 'older'],
      stale_ats: [5, 4],
      extend_to: 70,
    },
  );
  t.throws(() =>
    orderApply(
      decision([...reserveChanges, { type: 'reservationEnded', id: 'x', status: 'paid', at: 4 }]),
      10,
      't',
      1,
      2,
    ),
  );
  t.deepEqual(
    chargeApply(decision([{ type: 'walletCredited', userId: 'ann', amount: 5 }]), 10, 't', 0)?.args,
    {
      now: 10,
      user_id: 'ann',
      token: 't',
      balance: 0,
      amount: 5,
      key: null,
      fingerprint: null,
      result: null,
      created_at: null,
    },
  );
  t.throws(() =>
    chargeApply(
      decision([{ type: 'reservationEnded', id: 'r', status: 'cancelled', at: 10 }]),
      10,
      't',
      0,
    ),
  );
});

test("every apply's named fields are its composite type's attributes, in the schema the migrations build", async (t) => {
  const url = await fresh();
  await openEngine(t, url, { config: manual, catalog: null });
  const client = await connect(t, url);
  const attributes = async (type: string) =>
    (
      await client.query<{ name: string }>(
        `SELECT attname AS name FROM pg_attribute WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = $1::regtype) AND attnum > 0 ORDER BY attnum`,
        [type],
      )
    ).rows.map((row) => row.name);
  const ticket = {
    id: 'r-1',
    reservationId: 'r',
    scheduleId: 's1',
    concertId: 'c1',
    seatNo: 1,
    price: 5,
    holder: 'ann',
    status: 'valid' as const,
    createdAt: 10,
  };
  const facts = {
    arg: 't',
    token: undefined,
    placeOf: () => ({ position: 0, estimatedWaitSeconds: 0 }),
    row: undefined,
    lastSeenAt: 0,
  };
  const hold = {
    id: 'r',
    userId: 'ann',
    scheduleId: 's1',
    seatNo: 1,
    price: 5,
    status: 'held' as const,
    createdAt: 0,
    expiresAt: 50,
  };
  const noOffers = { schedule_id: 's1', head: 1, entries: [], holds: [], offers: [] };
  const samples: [ApplyKind<unknown>, object | undefined][] = [
    [HOLD, holdApply({ changes: reserveChanges, answer: null }, 10, 't', 1)?.args],
    [ORDER, orderApply({ changes: reserveChanges, answer: null }, 10, 't', 1, 0)?.args],
    [
      EXTEND,
      extendApply(
        {
          changes: [{ type: 'reservationExtended', id: 'r', expiresAt: 90, extensions: 1 }],
          answer: null,
        },
        10,
        {
          ...facts,
          token: {
            token: 't',
            userId: 'ann',
            status: 'active',
            seq: 0,
            issuedAt: 0,
            expiresAt: 99,
          },
        },
      )?.args,
    ],
    [
      CANCEL_OFFERS,
      cancelApply(
        {
          changes: [{ type: 'reservationEnded', id: 'r', status: 'cancelled', at: 10 }],
          answer: null,
        },
        10,
        {
          ...facts,
          token: {
            token: 't',
            userId: 'ann',
            status: 'active',
            seq: 0,
            issuedAt: 0,
            expiresAt: 99,
          },
        },
        hold,
        noOffers,
      )?.args,
    ],
    [
      EXTEND_OFFER,
      extendApply(
        {
          changes: [{ type: 'reservationExtended', id: 'r', expiresAt: 90, extensions: 1 }],
          answer: null,
        },
        10,
        {
          ...facts,
          token: {
            token: 't',
            userId: 'ann',
            status: 'active',
            seq: 0,
            issuedAt: 0,
            expiresAt: 99,
          },
        },
        { ...hold, origin: 'waitlist' },
      )?.args,
    ],
    [
      JOIN,
      joinApply(
        {
          changes: [
            {
              type: 'waitlistJoined',
              entry: {
                scheduleId: 's1',
                userId: 'ann',
                seq: 0,
                quantity: 1,
                offered: 0,
                joinedAt: 10,
              },
            },
          ],
          answer: null,
        },
        10,
        't',
        0,
        0,
      )?.args,
    ],
    [
      LEAVE,
      leaveApply(
        {
          changes: [{ type: 'waitlistLeft', scheduleId: 's1', userId: 'ann' }],
          answer: {
            scheduleId: 's1',
            userId: 'ann',
            position: 1,
            quantity: 1,
            offered: 0,
            joinedAt: '1970-01-01T00:00:00.010Z',
          },
        },
        10,
      )?.args,
    ],
    [
      PAY,
      payApply(
        {
          changes: [
            { type: 'reservationEnded', id: 'r', status: 'paid', at: 10 },
            {
              type: 'paymentMade',
              payment: {
                id: 'p',
                reservationId: 'r',
                userId: 'ann',
                amount: 5,
                balance: 0,
                createdAt: 10,
              },
            },
          ],
          answer: null,
        },
        10,
        't',
        1,
        5,
      )?.args,
    ],
    [
      CHARGE,
      chargeApply(
        { changes: [{ type: 'walletCredited', userId: 'ann', amount: 5 }], answer: null },
        10,
        't',
        0,
      )?.args,
    ],
    [
      ISSUE,
      issueApply(
        {
          changes: [
            {
              type: 'tokenIssued',
              token: {
                token: 't',
                userId: 'ann',
                status: 'waiting',
                seq: 0,
                issuedAt: 10,
                expiresAt: 0,
              },
            },
          ],
          answer: null,
        },
        10,
        1_000,
        {
          paused: false,
          admitPerTick: 1,
          maxActive: 1,
          opensAt: null,
          shuffle: false,
          pendingOpening: false,
          soldOut: false,
          draw: null,
        },
      )?.args,
    ],
    [
      CODE_ISSUE,
      issueApply(
        {
          changes: [
            {
              type: 'tokenIssued',
              token: {
                token: 't',
                userId: 'ann',
                status: 'waiting',
                seq: 0,
                issuedAt: 10,
                expiresAt: 0,
                priority: true,
              },
            },
            { type: 'codeSpent', room: 'default', hash: 'h', at: 10 },
          ],
          answer: null,
        },
        10,
        1_000,
        {
          paused: false,
          admitPerTick: 1,
          maxActive: 1,
          opensAt: null,
          shuffle: false,
          pendingOpening: false,
          soldOut: false,
          draw: null,
        },
      )?.args,
    ],
    [
      CATALOG,
      catalogApply({
        changes: [{ type: 'catalogAdded', concerts: [], schedules: [] }],
        answer: null,
      })?.args,
    ],
    [
      PAY_TICKETS,
      payApply(
        {
          changes: [
            { type: 'reservationEnded', id: 'r', status: 'paid', at: 10 },
            {
              type: 'paymentMade',
              payment: {
                id: 'p',
                reservationId: 'r',
                userId: 'ann',
                amount: 5,
                balance: 0,
                createdAt: 10,
              },
            },
            { type: 'ticketsIssued', tickets: [ticket] },
          ],
          answer: null,
        },
        10,
        't',
        1,
        5,
      )?.args,
    ],
    [
      PAY_OFFER,
      payApply(
        {
          changes: [
            { type: 'reservationEnded', id: 'r', status: 'paid', at: 10 },
            {
              type: 'paymentMade',
              payment: {
                id: 'p',
                reservationId: 'r',
                userId: 'ann',
                amount: 5,
                balance: 0,
                createdAt: 10,
              },
            },
            { type: 'ticketsIssued', tickets: [ticket] },
          ],
          answer: null,
        },
        10,
        't',
        1,
        5,
        true,
      )?.args,
    ],
    [
      CHECK_IN,
      checkInApply(
        {
          changes: [{ type: 'ticketChanged', id: 'r-1', status: 'checked_in', at: 10 }],
          answer: null,
        },
        10,
        'ann',
      )?.args,
    ],
    [
      REFUND_OFFERS,
      refundApply(
        {
          changes: [
            { type: 'ticketChanged', id: 'r-1', status: 'refunded', at: 10, refundedBy: 'holder' },
            { type: 'walletRefunded', userId: 'ann', amount: 5 },
            { type: 'seatFreed', scheduleId: 's1', seatNo: 1, reservationId: 'r', cause: 'refund' },
          ],
          answer: null,
        },
        10,
        ticket,
        noOffers,
      )?.args,
    ],
    [
      TRANSFER,
      transferApply(
        {
          changes: [
            { type: 'ticketChanged', id: 'r-1', status: 'transferred', at: 10, transferredTo: 'n' },
            {
              type: 'ticketsIssued',
              tickets: [{ ...ticket, id: 'n', holder: 'bob', transferredFrom: 'r-1' }],
            },
          ],
          answer: null,
        },
        10,
        ticket,
        0,
      )?.args,
    ],
  ];
  for (const [kind, args] of samples) {
    t.truthy(args, kind.type);
    t.deepEqual(Object.keys(args!), await attributes(kind.type), kind.type);
  }
});
