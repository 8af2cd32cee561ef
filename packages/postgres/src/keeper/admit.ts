import { drawnOrder, type Draw } from '@usher/engine/rules';
import type { Queryable } from '../database.js';

/**
 * Admits the first `count` waiting tokens of `room` in its line's order, as the tick
 * decided: through the draw first (slot by slot from the cursor, a batch of
 * candidate lines at a time, each batch one indexed read), then by line
 * number after it. The lines are picked first (rows locked), then
 * `usher_admit` admits exactly those, and exactly `count` of them, or the
 * step rolls back. O(admitted + those who left the drawn part since the last
 * tick). Answers the lines admitted and the new cursor.
 */
export async function admit(
  db: Queryable,
  room: string,
  count: number,
  expiresAt: number,
  draw: Draw | null,
  cursor: number,
): Promise<{ lines: number[]; cursor: number }> {
  const lines: number[] = [];
  // Who joined with a presale code first, in join order (issue 25): the head of the line, outside any draw.
  // Each leaves the head of the line as it is picked (all of them when fewer than `count`: the picks below
  // then meet none).
  if (count > 0) {
    const { rows } = await db.query<{ token: string; line: string }>(
      `SELECT t.token, t.line FROM priority_tokens p JOIN tokens t ON t.token = p.token
        WHERE t.status = 'waiting' AND t.room = $2 ORDER BY p.seq LIMIT $1 FOR UPDATE OF t`,
      [count, room],
    );
    lines.push(...rows.map((row) => Number(row.line)));
    if (rows.length > 0)
      await db.query('DELETE FROM priority_tokens WHERE token = ANY($1::text[])', [
        rows.map((row) => row.token),
      ]);
  }
  // Picked already: still `waiting` until usher_admit, so the picks below leave them out.
  const head = new Set(lines);
  if (draw && cursor <= draw.to && lines.length < count) {
    const order = drawnOrder(draw);
    while (lines.length < count && cursor <= draw.to) {
      const end = Math.min(draw.to, cursor + Math.max(256, 2 * (count - lines.length)) - 1);
      const candidates: number[] = [];
      for (let slot = cursor; slot <= end; slot++) candidates.push(order.placeAt(slot));
      const { rows } = await db.query<{ line: string }>(
        `SELECT line FROM tokens WHERE status = 'waiting' AND room = $2 AND line = ANY($1::bigint[]) FOR UPDATE`,
        [candidates, room],
      );
      const waiting = new Set(rows.map((row) => Number(row.line)));
      for (const line of candidates) {
        if (lines.length === count) break;
        cursor++;
        if (waiting.has(line) && !head.has(line)) lines.push(line);
      }
    }
  }
  if (lines.length < count) {
    // Picked in a statement of its own: a LIMIT inside the UPDATE's WHERE could be rescanned per row by
    // a nested loop (planned on a nearly empty table) and admit the whole line (issue 20).
    const { rows } = await db.query<{ line: string }>(
      `SELECT line FROM tokens WHERE status = 'waiting' AND room = $4 AND line > $2 AND line <> ALL($3::bigint[]) ORDER BY line LIMIT $1 FOR UPDATE`,
      [
        count - lines.length,
        draw && cursor <= draw.to ? Number.MAX_SAFE_INTEGER : (draw?.to ?? 0),
        [...head],
        room,
      ],
    );
    lines.push(...rows.map((row) => Number(row.line)));
  }
  await db.query('SELECT usher_admit_in_room($1, $2::bigint[], $3, $4)', [
    room,
    lines,
    expiresAt,
    count,
  ]);
  return { lines, cursor };
}
