import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { migrate, migrations, readContents } from '@usher/postgres';
import { activeToken, createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine } from './helpers/engines.js';

/**
 * Migration 8 (issue 23, SPEC §11) at the level of SQL: the tickets' table,
 * constraints and applies, called as the engine calls them
 * (`usher_apply_each`), from several connections at once where it matters.
 * What they guarantee whatever engine code sends them: a seat in at most one
 * live ticket, a ticket leaves `valid` once (check-in, refund or transfer:
 * one wins), a refund credits once and frees the seat for sale, a transfer
 * counts for the receiver.
 */
const server = usePostgres(test);

async function connect(t: ExecutionContext, url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

/** Applies `items` of `type` in one statement; each item's SQLSTATE, or null where it applied. */
async function applyEach(db: pg.ClientBase, type: string, items: readonly object[]) {
  const { rows } = await db.query<{ err: string | null }>(
    `SELECT err FROM usher_apply_each(NULL::${type}, $1::json)`,
    [JSON.stringify(items)],
  );
  return rows.map((row) => row.err);
}

/** A paid reservation of `seatNos` of s1 (1,000 each) by `user`, with its tickets `tk-<seat>`, through the SQL applies. */
async function paidOrder(
  t: ExecutionContext,
  url: string,
  seatNos: readonly number[],
  options: { config?: object } = {},
) {
  const opened = await openEngine(t, url, {
    config: { ...manual, maxTicketsPerUser: 10, ...options.config },
  });
  const { engine, clock } = opened;
  const ann = await activeToken(engine, 'ann');
  await engine.charge(ann, { userId: 'ann', amount: 10_000 });
  const order = await engine.reserve(ann, { scheduleId: 's1', seatNos: [...seatNos] });
  const client = await connect(t, url);
  const now = clock.now();
  const amount = 1_000 * seatNos.length;
  t.deepEqual(
    await applyEach(client, 'usher_pay_tickets', [
      {
        ...payFields(now, ann, order.id, 10_000, amount),
        tickets: seatNos.map((seatNo) => ticket(`tk-${seatNo}`, seatNo, now)),
      },
    ]),
    [null],
  );
  return { ...opened, ann, order, client, now };
}

function payFields(
  now: number,
  token: string,
  reservationId: string,
  balance: number,
  amount: number,
) {
  return {
    now,
    user_id: 'ann',
    token,
    held: 1,
    balance,
    reservation_id: reservationId,
    paid_at: now,
    payment_id: `pay-${reservationId}`,
    amount,
    new_balance: balance - amount,
    created_at: now,
    key: null,
    fingerprint: null,
    result: null,
    keep_until: null,
  };
}

const ticket = (id: string, seatNo: number, now: number, holder = 'ann') => ({
  id,
  seat_no: seatNo,
  price: 1_000,
  holder,
  created_at: now,
});

const refund = (now: number, id: string, extra: object = {}) => ({
  now,
  user_id: 'ann',
  ticket_id: id,
  amount: 1_000,
  at: now,
  refunded_by: 'holder',
  key: null,
  fingerprint: null,
  result: null,
  ...extra,
});

const transfer = (now: number, id: string, newId: string, extra: object = {}) => ({
  now,
  user_id: 'ann',
  to_user_id: 'bob',
  to_tickets: 0,
  ticket_id: id,
  new_id: newId,
  at: now,
  key: null,
  fingerprint: null,
  result: null,
  ...extra,
});

async function ticketRows(db: pg.ClientBase) {
  return (
    await db.query<{ id: string; seat_no: number; holder: string; status: string }>(
      'SELECT id, seat_no, holder, status FROM tickets ORDER BY id',
    )
  ).rows;
}

test('a payment writes one ticket per seat of its reservation, or nothing at all', async (t) => {
  const url = await createDatabase(server());
  const { engine, clock } = await openEngine(t, url, {
    config: { ...manual, maxTicketsPerUser: 10 },
  });
  const ann = await activeToken(engine, 'ann');
  await engine.charge(ann, { userId: 'ann', amount: 10_000 });
  const order = await engine.reserve(ann, { scheduleId: 's1', seatNos: [3, 4] });
  const client = await connect(t, url);
  const now = clock.now();
  const pay = (tickets: object[]) =>
    applyEach(client, 'usher_pay_tickets', [
      { ...payFields(now, ann, order.id, 10_000, 2_000), tickets },
    ]);
  // A seat missing, a seat not of the order, a ticket for someone else: each is a fault (UR500), and the
  // payment it came with is not applied either.
  t.deepEqual(await pay([ticket('a', 3, now)]), ['UR500']);
  t.deepEqual(await pay([ticket('a', 3, now), ticket('b', 5, now)]), ['UR500']);
  t.deepEqual(await pay([ticket('a', 3, now), ticket('b', 4, now, 'bob')]), ['UR500']);
  t.is((await engine.getReservation(ann, order.id)).status, 'held');
  t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 10_000 });
  t.deepEqual(await ticketRows(client), []);

  t.deepEqual(await pay([ticket('a', 3, now), ticket('b', 4, now)]), [null]);
  t.deepEqual(await ticketRows(client), [
    { id: 'a', seat_no: 3, holder: 'ann', status: 'valid' },
    { id: 'b', seat_no: 4, holder: 'ann', status: 'valid' },
  ]);
  // No seat is in two live tickets, whatever writes them.
  const error = await t.throwsAsync(
    client.query(
      `INSERT INTO tickets (id, reservation_id, schedule_id, seat_no, price, holder, status, created_at)
       VALUES ('c', $1, 's1', 3, 1000, 'ann', 'valid', 0)`,
      [order.id],
    ),
  );
  t.is((error as { code?: string }).code, '23505');
});

test('of 50 check-ins of one ticket at once on 5 connections, exactly one applies; a void ticket never checks in', async (t) => {
  const url = await createDatabase(server());
  const { client, now } = await paidOrder(t, url, [1, 2]);
  const clients = await Promise.all([1, 2, 3, 4, 5].map(() => connect(t, url)));
  const outcomes = (
    await Promise.all(
      clients.map((db, c) =>
        applyEach(
          db,
          'usher_check_in',
          Array.from({ length: 10 }, (_, i) => ({ now, ticket_id: 'tk-1', at: now + c * 10 + i })),
        ),
      ),
    )
  ).flat();
  t.is(outcomes.filter((err) => err === null).length, 1);
  t.is(outcomes.filter((err) => err === 'UR409').length, 49);
  const { rows } = await client.query<{ status: string; checked_in_at: string }>(
    `SELECT status, checked_in_at FROM tickets WHERE id = 'tk-1'`,
  );
  t.is(rows[0]!.status, 'checked_in');
  // Checked in: no refund, no transfer.
  t.deepEqual(await applyEach(client, 'usher_refund', [refund(now, 'tk-1')]), ['UR409']);
  t.deepEqual(await applyEach(client, 'usher_transfer', [transfer(now, 'tk-1', 'x')]), ['UR409']);
  // Refunded: no check-in.
  t.deepEqual(await applyEach(client, 'usher_refund', [refund(now, 'tk-2')]), [null]);
  t.deepEqual(await applyEach(client, 'usher_check_in', [{ now, ticket_id: 'tk-2', at: now }]), [
    'UR409',
  ]);
});

test('a refund credits the holder once, frees the seat for sale at once, and remembers its key', async (t) => {
  const url = await createDatabase(server());
  const { engine, ann, client, now, order } = await paidOrder(t, url, [1, 2]);
  const keyed = { key: 'k1', fingerprint: 'refund tk-1', result: { id: 'tk-1' } };
  // Retries of one refund at once, on 4 connections: one applies (the others find the ticket refunded).
  const clients = await Promise.all([1, 2, 3, 4].map(() => connect(t, url)));
  const outcomes = (
    await Promise.all(
      clients.map((db) => applyEach(db, 'usher_refund', [refund(now, 'tk-1', keyed)])),
    )
  ).flat();
  t.deepEqual(
    outcomes.filter((err) => err === null),
    [null],
  );
  const wallet = await client.query(
    `SELECT balance::int, charged::int, paid::int, refunded::int FROM wallets WHERE user_id = 'ann'`,
  );
  t.deepEqual(wallet.rows[0], { balance: 9_000, charged: 11_000, paid: 2_000, refunded: 1_000 });
  const key = await client.query(`SELECT fingerprint FROM idempotency_keys WHERE key = 'k1'`);
  t.deepEqual(key.rows, [{ fingerprint: 'refund tk-1' }]);
  const seats = await client.query(
    'SELECT seat_no, status FROM reservation_seats WHERE reservation_id = $1 ORDER BY seat_no',
    [order.id],
  );
  t.deepEqual(seats.rows, [
    { seat_no: 1, status: 'cancelled' },
    { seat_no: 2, status: 'paid' },
  ]);
  // The reservation stays paid, its seats as they were; it no longer starts at seat 1 (parked past every seat).
  const reservation = await client.query<{ seat_no: number; status: string; seats: unknown }>(
    'SELECT seat_no, status, seats FROM reservations WHERE id = $1',
    [order.id],
  );
  t.like(reservation.rows[0], { status: 'paid' });
  t.true(reservation.rows[0]!.seat_no > 10);
  t.deepEqual(reservation.rows[0]!.seats, [
    { seatNo: 1, price: 1_000 },
    { seatNo: 2, price: 1_000 },
  ]);
  t.like(await engine.getReservation(ann, order.id), { seatNo: 1, status: 'paid' });
  t.like((await readContents(url)).reservations.get(order.id), { seatNo: 1, status: 'paid' });
  // For sale: listed, and another user holds it (a one-seat hold starting at it, and an order).
  const bob = await activeToken(engine, 'bob');
  t.true((await engine.listSeats(bob, 's1')).seats.some((seat) => seat.seatNo === 1));
  const bobs = await engine.reserve(bob, { scheduleId: 's1', seatNo: 1 });
  t.is(bobs.status, 'held');
  await engine.cancelReservation(bob, bobs.id);
  const order2 = await engine.reserve(bob, { scheduleId: 's1', seatNos: [1, 3] });
  t.is(order2.status, 'held');
  // A paid seat less for sold-out.
  const log = await client.query<{ n: number }>('SELECT sum(n)::int AS n FROM paid_log');
  t.is(log.rows[0]!.n, 2 - 1);
});

test('a transfer gives the receiver a new valid ticket and voids the old one; the receiver counts as read', async (t) => {
  const url = await createDatabase(server());
  const { client, now } = await paidOrder(t, url, [1, 2]);
  // Bob's tickets of the schedule were read as 1: they are 0 — the transfer is decided again.
  t.deepEqual(
    await applyEach(client, 'usher_transfer', [transfer(now, 'tk-1', 'tb-1', { to_tickets: 1 })]),
    ['UR409'],
  );
  t.deepEqual(await applyEach(client, 'usher_transfer', [transfer(now, 'tk-1', 'tb-1')]), [null]);
  t.deepEqual(await ticketRows(client), [
    { id: 'tb-1', seat_no: 1, holder: 'bob', status: 'valid' },
    { id: 'tk-1', seat_no: 1, holder: 'ann', status: 'transferred' },
    { id: 'tk-2', seat_no: 2, holder: 'ann', status: 'valid' },
  ]);
  const count = async (user: string) =>
    (
      await client.query<{ n: number }>(`SELECT usher_ticket_count($1, 's1', $2)::int AS n`, [
        user,
        now,
      ])
    ).rows[0]!.n;
  t.is(await count('ann'), 1);
  t.is(await count('bob'), 1);
  // The old ticket is void: no check-in, no second transfer; the new one checks in.
  t.deepEqual(await applyEach(client, 'usher_check_in', [{ now, ticket_id: 'tk-1', at: now }]), [
    'UR409',
  ]);
  t.deepEqual(await applyEach(client, 'usher_transfer', [transfer(now, 'tk-1', 'tb-2')]), [
    'UR409',
  ]);
  // Bob refunds the ticket he received: the money goes to bob, the seat is free.
  t.deepEqual(await applyEach(client, 'usher_refund', [refund(now, 'tb-1', { user_id: 'bob' })]), [
    null,
  ]);
  const wallet = await client.query(
    `SELECT balance::int, charged::int, paid::int, refunded::int FROM wallets WHERE user_id = 'bob'`,
  );
  t.deepEqual(wallet.rows[0], { balance: 1_000, charged: 1_000, paid: 0, refunded: 1_000 });
  t.is(await count('bob'), 0);
});

test('a check-in, a refund and a transfer of one ticket at once: exactly one applies', async (t) => {
  const url = await createDatabase(server());
  const { client, now } = await paidOrder(t, url, [1, 2, 3, 4]);
  const clients = await Promise.all([1, 2, 3].map(() => connect(t, url)));
  for (const id of ['tk-1', 'tk-2', 'tk-3', 'tk-4']) {
    const outcomes = (
      await Promise.all([
        applyEach(clients[0]!, 'usher_check_in', [{ now, ticket_id: id, at: now }]),
        applyEach(clients[1]!, 'usher_refund', [refund(now, id)]),
        applyEach(clients[2]!, 'usher_transfer', [
          transfer(now, id, `new-${id}`, { to_user_id: `bob-${id}` }),
        ]),
      ])
    ).flat();
    t.is(outcomes.filter((err) => err === null).length, 1, `${id}: ${outcomes.join(' ')}`);
  }
  const live = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM tickets WHERE status IN ('valid', 'checked_in')`,
  );
  const refunded = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM tickets WHERE status = 'refunded'`,
  );
  t.is(live.rows[0]!.n + refunded.rows[0]!.n, 4, 'each seat in one live ticket, or refunded');
});

test('migration 8 gives the reservations paid before it their tickets, one per paid seat', async (t) => {
  const url = await createDatabase(server());
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  t.teardown(() => pool.end());
  await pool.query(
    'CREATE TABLE usher_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  for (const migration of migrations.filter((m) => m.version < 8)) {
    await pool.query(migration.sql);
    await pool.query('INSERT INTO usher_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
  }
  await pool.query(`INSERT INTO concerts VALUES ('c1', '{}'), ('c2', '{}')`);
  await pool.query(`INSERT INTO schedules VALUES ('s1', 'c1', '2027-01-01', 10, '{}')`);
  // A one-seat reservation from before orders (no seats), an order of two (one at 2,000), a held one.
  await pool.query(
    `INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, seats, amount, status, created_at, expires_at, ended_at)
     VALUES ('r1', 'ann', 's1', 1, 1000, NULL, NULL, 'paid', 10, 20, 15),
            ('r2', 'bob', 's1', 3, 1000, '[{"seatNo":3,"price":1000},{"seatNo":4,"price":2000}]', 3000, 'paid', 11, 21, 16),
            ('r3', 'cat', 's1', 5, 1000, NULL, NULL, 'held', 12, 99, NULL)`,
  );
  t.deepEqual(await migrate(pool), [8, 9]);
  const { rows } = await pool.query(
    'SELECT id, reservation_id, seat_no, price::int, holder, status, created_at::int FROM tickets ORDER BY seat_no',
  );
  t.deepEqual(rows, [
    {
      id: 'r1-1',
      reservation_id: 'r1',
      seat_no: 1,
      price: 1000,
      holder: 'ann',
      status: 'valid',
      created_at: 15,
    },
    {
      id: 'r2-3',
      reservation_id: 'r2',
      seat_no: 3,
      price: 1000,
      holder: 'bob',
      status: 'valid',
      created_at: 16,
    },
    {
      id: 'r2-4',
      reservation_id: 'r2',
      seat_no: 4,
      price: 2000,
      holder: 'bob',
      status: 'valid',
      created_at: 16,
    },
  ]);
});
