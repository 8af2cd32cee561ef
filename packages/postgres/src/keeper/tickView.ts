import type { OpeningRange, Stock } from '@usher/engine/rules';
import type { Queryable } from '../database.js';
import { ROOM_COLUMNS, roomRow, type RoomRow } from '../room.js';

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
     UPDATE room SET paid_seats = paid_seats + added.n FROM added WHERE id = 1 AND added.n <> 0`,
  );
  await db.query(
    `WITH taken AS (DELETE FROM room_paid_log RETURNING room, n),
          added AS (SELECT room, sum(n) AS n FROM taken GROUP BY room)
     UPDATE rooms SET paid_seats = rooms.paid_seats + added.n FROM added WHERE rooms.id = added.room`,
  );
}

/** What one room's tick decides on, besides its waiting count and opening (see {@link readTickViews}). */
export interface RoomTickView {
  readonly read: RoomRow;
  readonly active: number;
  readonly priorityWaiting: number;
  readonly stock: Stock;
}

/**
 * Every room's view for a tick, in one statement (one round trip whatever
 * the number of rooms; {@link takePaidLogs} ran first): its row
 * (`room_states`), its active tokens (`tokens_room_active`), its code
 * holders waiting, and what sold-out compares, from counters: a concert's
 * room, its `paid_seats`, a live hold on its schedules, its schedules' seats;
 * the default room, the seats of the concerts without a room, and every
 * paid seat less those of the rooms of concerts. Never counted seat by seat.
 * By id, the default room first.
 */
export async function readTickViews(
  db: Queryable,
  now: number,
): Promise<Map<string, RoomTickView>> {
  const { rows } = await db.query<Record<string, unknown>>(
    `WITH seats AS (SELECT coalesce(ro.id, 'default') AS room, sum(s.total_seats) AS n
                      FROM schedules s LEFT JOIN rooms ro ON ro.id = s.concert_id GROUP BY 1),
          held AS (SELECT DISTINCT coalesce(ro.id, 'default') AS room
                     FROM reservations r JOIN schedules s ON s.id = r.schedule_id
                     LEFT JOIN rooms ro ON ro.id = s.concert_id
                    WHERE usher_hold_live(r, $1))
     SELECT rs.id, ${ROOM_COLUMNS},
            (SELECT count(*) FROM tokens t WHERE t.room = rs.id AND usher_token_active(t, $1)) AS active,
            (SELECT count(*) FROM priority_tokens p JOIN tokens t ON t.token = p.token
              WHERE t.status = 'waiting' AND t.room = rs.id) AS priority,
            CASE WHEN rs.id = 'default' THEN rs.paid_seats - (SELECT coalesce(sum(paid_seats), 0) FROM rooms)
                 ELSE rs.paid_seats END AS paid,
            EXISTS (SELECT 1 FROM held WHERE held.room = rs.id) AS held,
            (SELECT n FROM seats WHERE seats.room = rs.id) AS seats
       FROM room_states rs
      ORDER BY rs.id <> 'default', rs.id`,
    [now],
  );
  const views = new Map<string, RoomTickView>();
  for (const row of rows)
    views.set(String(row['id']), {
      read: roomRow(row),
      active: Number(row['active']),
      priorityWaiting: Number(row['priority']),
      stock: {
        totalSeats: Number(row['seats'] ?? 0),
        heldSeats: row['held'] === true ? 1 : 0,
        paidSeats: Number(row['paid'] ?? 0),
      },
    });
  return views;
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
