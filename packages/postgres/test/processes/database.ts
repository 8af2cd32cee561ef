import type { ExecutionContext } from 'ava';
import pg from 'pg';

/**
 * Reading what the database holds, with SQL over the engine's schema
 * (migrations 001 and 002), for tests that check it from outside the engines.
 */
export class Database {
  readonly #pool: pg.Pool;

  constructor(connectionString: string) {
    this.#pool = new pg.Pool({ connectionString, max: 2, connectionTimeoutMillis: 5_000 });
    // A server that is crashed on purpose ends idle connections: the pool drops them, the next query opens a new one.
    this.#pool.on('error', () => undefined);
  }

  async rows<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.#pool.query<R>(sql, params)).rows;
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

/**
 * SPEC §5 invariants 1 and 2 on what the database holds: no seat held or
 * sold by two reservations, a seat paid at most once (one payment per
 * reservation, of its price, by its holder, and the reservation `paid`), and
 * every wallet balances (`balance = charged − paid >= 0`, `paid` = Σ its
 * payments). Returns the wallets, for the caller's own sums.
 */
export async function assertInvariants(
  t: ExecutionContext,
  db: Database,
): Promise<Map<string, { balance: number; charged: number; paid: number }>> {
  const doubles = await db.rows(
    `SELECT s.schedule_id, s.seat_no, count(*)::int AS n
       FROM reservations r JOIN reservation_seats s ON s.reservation_id = r.id
      -- A refunded ticket's seat row is cancelled (migration 8) and may be sold again.
      WHERE r.status IN ('held', 'paid') AND s.status IN ('held', 'paid') GROUP BY 1, 2 HAVING count(*) > 1`,
  );
  t.deepEqual(doubles, [], 'no seat is held or sold by two reservations');
  const unlike = await db.rows(
    `SELECT r.id FROM reservations r
      WHERE (SELECT count(*) FROM reservation_seats s WHERE s.reservation_id = r.id
               -- A refunded ticket's seat is free again (migration 8): its row is cancelled, its reservation paid.
               AND (s.status = r.status OR (r.status = 'paid' AND s.status = 'cancelled' AND EXISTS (
                      SELECT 1 FROM tickets t WHERE t.reservation_id = r.id AND t.seat_no = s.seat_no AND t.status = 'refunded')))
               AND s.expires_at = r.expires_at AND s.schedule_id = r.schedule_id AND s.user_id = r.user_id
               AND s.seat_no IN (SELECT coalesce((e->>'seatNo')::int, r.seat_no) FROM jsonb_array_elements(coalesce(r.seats, '[{}]')) e))
            <> coalesce(jsonb_array_length(r.seats), 1)
         OR (SELECT count(*) FROM reservation_seats s WHERE s.reservation_id = r.id) <> coalesce(jsonb_array_length(r.seats), 1)`,
  );
  t.deepEqual(
    unlike,
    [],
    "every reservation's seats are its seat rows, with its status and deadline",
  );
  const paidTwice = await db.rows(
    `SELECT reservation_id FROM payments GROUP BY 1 HAVING count(*) > 1`,
  );
  t.deepEqual(paidTwice, [], 'no reservation is paid twice');
  const soldTwice = await db.rows(
    `SELECT s.schedule_id, s.seat_no FROM payments p JOIN reservation_seats s ON s.reservation_id = p.reservation_id
      WHERE s.status = 'paid' GROUP BY 1, 2 HAVING count(*) > 1`,
  );
  t.deepEqual(soldTwice, [], 'no seat is paid for twice (a refunded one may be sold again)');
  const ticketless = await db.rows(
    `SELECT s.reservation_id, s.seat_no FROM reservation_seats s WHERE s.status = 'paid' AND (
       SELECT count(*) FROM tickets t WHERE t.reservation_id = s.reservation_id AND t.seat_no = s.seat_no
          AND t.status IN ('valid', 'checked_in')) <> 1`,
  );
  t.deepEqual(ticketless, [], 'every sold seat is in exactly one live ticket');
  const badPayments = await db.rows(
    `SELECT p.id, r.status, p.amount, r.price, p.user_id, r.user_id AS holder
       FROM payments p LEFT JOIN reservations r ON r.id = p.reservation_id
      WHERE r.id IS NULL OR r.status <> 'paid' OR coalesce(r.amount, r.price) <> p.amount OR r.user_id <> p.user_id
         OR r.amount <> (SELECT sum((e->>'price')::bigint) FROM jsonb_array_elements(r.seats) e)`,
  );
  t.deepEqual(
    badPayments,
    [],
    'every payment is of its reservation, by its holder, at its price, and the reservation is paid',
  );
  const unpaid = await db.rows(
    `SELECT r.id FROM reservations r WHERE r.status = 'paid' AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.reservation_id = r.id)`,
  );
  t.deepEqual(unpaid, [], 'every paid reservation has its payment');
  const wallets = await db.rows<{
    user_id: string;
    balance: string;
    charged: string;
    paid: string;
    refunded: string;
    payments: string;
    refunds: string;
  }>(
    `SELECT w.user_id, w.balance, w.charged, w.paid, w.refunded,
            coalesce((SELECT sum(amount) FROM payments p WHERE p.user_id = w.user_id), 0) AS payments,
            coalesce((SELECT sum(price) FROM tickets t WHERE t.holder = w.user_id AND t.status = 'refunded'), 0) AS refunds
       FROM wallets w`,
  );
  const orphans = await db.rows(
    `SELECT DISTINCT user_id FROM payments p WHERE NOT EXISTS (SELECT 1 FROM wallets w WHERE w.user_id = p.user_id)`,
  );
  t.deepEqual(orphans, [], 'every payer has a wallet');
  const byUser = new Map<string, { balance: number; charged: number; paid: number }>();
  for (const wallet of wallets) {
    const balance = Number(wallet.balance);
    const refunded = Number(wallet.refunded);
    // A refund grows the column `charged` too (migration 8): the charges are the rest.
    const charged = Number(wallet.charged) - refunded;
    const paid = Number(wallet.paid);
    t.true(balance >= 0, `balance of ${wallet.user_id} is ${balance}`);
    t.is(
      balance,
      charged - paid + refunded,
      `wallet of ${wallet.user_id}: balance = charged − paid + refunded`,
    );
    t.is(paid, Number(wallet.payments), `payments of ${wallet.user_id} add up`);
    t.is(refunded, Number(wallet.refunds), `refunds of ${wallet.user_id} add up`);
    byUser.set(wallet.user_id, { balance, charged, paid });
  }
  return byUser;
}

/** Resolves when `check` answers true; rejects with `what` when `ms` pass first. */
export async function until(
  what: string,
  ms: number,
  check: () => Promise<boolean> | boolean,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A tiny seeded PRNG (mulberry32), so a run can be replayed from its seed. */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), seed | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
