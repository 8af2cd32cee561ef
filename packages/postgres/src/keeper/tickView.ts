import { DEFAULT_ROOM, type OpeningRange, type Stock } from '@usher/engine/rules';
import type { Queryable } from '../database.js';

/** The active tokens of `room` at `now` (counted under the step lock: nothing else admits meanwhile; `tokens_room_active`). */
export async function countActive(db: Queryable, now: number, room: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*) AS count FROM tokens t WHERE t.room = $2 AND usher_token_active(t, $1)`,
    [now, room],
  );
  return Number(rows[0]!.count);
}

/** Waiting tokens of `room` that joined with a presale code (issue 25): the head of its line. */
export async function countPriority(db: Queryable, room: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*) AS count FROM priority_tokens p JOIN tokens t ON t.token = p.token
      WHERE t.status = 'waiting' AND t.room = $1`,
    [room],
  );
  return Number(rows[0]!.count);
}

/**
 * The payments since the last tick, taken from the logs into the rooms'
 * counters: `paid_log` (every seat) into `room.paid_seats`, `room_paid_log`
 * (seats of concerts with a room) into each room's `rooms.paid_seats`.
 * O(payments since). Once per step, before any room's stock is read.
 */
export async function takePaidLogs(db: Queryable): Promise<void> {
  await db.query(
    `WITH taken AS (DELETE FROM paid_log RETURNING n),
          added AS (SELECT coalesce(sum(n), 0) AS n FROM taken)
     UPDATE room SET paid_seats = paid_seats + added.n FROM added WHERE id = 1 AND added.n > 0`,
  );
  await db.query(
    `WITH taken AS (DELETE FROM room_paid_log RETURNING room, n),
          added AS (SELECT room, sum(n) AS n FROM taken GROUP BY room)
     UPDATE rooms SET paid_seats = rooms.paid_seats + added.n FROM added WHERE rooms.id = added.room`,
  );
}

/**
 * What sold-out compares for `room`, from counters ({@link takePaidLogs} ran
 * first): a concert's room, its `paid_seats`, a live hold on its schedules
 * (one probe), its schedules' seats; the default room, the seats of the
 * concerts without a room, and every paid seat less those of the rooms of
 * concerts. Never counted seat by seat.
 */
export async function readStock(db: Queryable, now: number, room: string): Promise<Stock> {
  const own =
    room === DEFAULT_ROOM
      ? `NOT EXISTS (SELECT 1 FROM rooms ro WHERE ro.id = s.concert_id)`
      : `s.concert_id = $2`;
  const paid =
    room === DEFAULT_ROOM
      ? `(SELECT paid_seats FROM room WHERE id = 1) - (SELECT coalesce(sum(paid_seats), 0) FROM rooms)`
      : `(SELECT paid_seats FROM rooms WHERE id = $2)`;
  const { rows } = await db.query<{ paid: string | null; held: boolean; seats: string | null }>(
    `SELECT ${paid} AS paid,
            EXISTS (SELECT 1 FROM reservations r JOIN schedules s ON s.id = r.schedule_id
                     WHERE usher_hold_live(r, $1) AND ${own}) AS held,
            (SELECT sum(total_seats) FROM schedules s WHERE ${own}) AS seats`,
    room === DEFAULT_ROOM ? [now] : [now, room],
  );
  const row = rows[0];
  return {
    totalSeats: Number(row?.seats ?? 0),
    heldSeats: row?.held ? 1 : 0,
    paidSeats: Number(row?.paid ?? 0),
  };
}

/** What an opening at `cut` draws in `room`: from its first line to the last one given to someone who joined before `cut` (two index reads). */
export async function readOpeningRange(
  db: Queryable,
  cut: number,
  room: string,
): Promise<OpeningRange | null> {
  const { rows } = await db.query<{ from: string | null; to: string | null }>(
    `SELECT (SELECT min(line) FROM tokens WHERE status = 'waiting' AND room = $2) AS from,
            (SELECT line FROM tokens WHERE status = 'waiting' AND room = $2 AND issued_at < $1 ORDER BY line DESC LIMIT 1) AS to`,
    [cut, room],
  );
  const { from, to } = rows[0] ?? {};
  return from === null || from === undefined || to === null || to === undefined
    ? null
    : { from: Number(from), to: Number(to) };
}
