import type { OpeningRange, Stock } from '@usher/engine/rules';
import type { Queryable } from '../database.js';

/** The active tokens at `now` (counted under the step lock: nothing else admits meanwhile). */
export async function countActive(db: Queryable, now: number): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*) AS count FROM tokens t WHERE usher_token_active(t, $1)`,
    [now],
  );
  return Number(rows[0]!.count);
}

/** Waiting tokens that joined with a presale code (issue 25): the head of the line (its own small index). */
export async function countPriority(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*) AS count FROM priority_tokens p JOIN tokens t ON t.token = p.token WHERE t.status = 'waiting'`,
  );
  return Number(rows[0]!.count);
}

/**
 * What sold-out compares, from counters: the payments (and, as `-1`s, the
 * refunds, migration 8) since the last tick are taken from `paid_log` into
 * `room.paid_seats` (O(payments since)); a
 * live hold is one indexed probe; the seats are summed over the schedules
 * (the catalog: a few rows), never counted seat by seat.
 */
export async function readStock(db: Queryable, now: number): Promise<Stock> {
  const { rows } = await db.query<{ paid: string | null; held: boolean; seats: string | null }>(
    `WITH taken AS (DELETE FROM paid_log RETURNING n),
          added AS (SELECT coalesce(sum(n), 0) AS n FROM taken),
          counted AS (UPDATE room SET paid_seats = paid_seats + added.n FROM added WHERE id = 1 AND added.n <> 0 RETURNING paid_seats)
     SELECT coalesce((SELECT paid_seats FROM counted), (SELECT paid_seats FROM room WHERE id = 1)) AS paid,
            EXISTS (SELECT 1 FROM reservations r WHERE usher_hold_live(r, $1)) AS held,
            (SELECT sum(total_seats) FROM schedules) AS seats`,
    [now],
  );
  const row = rows[0];
  return {
    totalSeats: Number(row?.seats ?? 0),
    heldSeats: row?.held ? 1 : 0,
    paidSeats: Number(row?.paid ?? 0),
  };
}

/** What an opening at `cut` draws: from the first line to the last one given to someone who joined before `cut` (two index reads). */
export async function readOpeningRange(db: Queryable, cut: number): Promise<OpeningRange | null> {
  const { rows } = await db.query<{ from: string | null; to: string | null }>(
    `SELECT (SELECT min(line) FROM tokens WHERE status = 'waiting') AS from,
            (SELECT line FROM tokens WHERE status = 'waiting' AND issued_at < $1 ORDER BY line DESC LIMIT 1) AS to`,
    [cut],
  );
  const { from, to } = rows[0] ?? {};
  return from === null || from === undefined || to === null || to === undefined
    ? null
    : { from: Number(from), to: Number(to) };
}
