import type { Queryable } from '../database.js';

/**
 * Arrivals (waiting tokens without a line) get the next line numbers of
 * their room, in `seq` order, after the room's `lineEnd`: read, then numbered
 * by token through the primary key (`usher_line_up`, one call per room with
 * arrivals), O(arrivals) whatever the planner knows. Under the step lock
 * nobody draws a number: everything up to `seqEnd` is settled. Answers
 * `seqEnd` and how many arrived in each room.
 */
export async function lineUp(
  db: Queryable,
  lineEndOf: (room: string) => number,
): Promise<{ seqEnd: number; arrivals: Map<string, number> }> {
  const drawn = await db.query<{ seq_end: string }>(
    `SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS seq_end FROM token_seq`,
  );
  const seqEnd = Number(drawn.rows[0]!.seq_end);
  const unlined = await db.query<{ token: string; room: string }>(
    `SELECT token, room FROM tokens t WHERE usher_arrival(t) ORDER BY seq FOR UPDATE`,
  );
  const byRoom = new Map<string, string[]>();
  for (const { token, room } of unlined.rows) {
    const list = byRoom.get(room) ?? [];
    list.push(token);
    byRoom.set(room, list);
  }
  const arrivals = new Map<string, number>();
  for (const [room, tokens] of byRoom) {
    await db.query('SELECT usher_line_up($1::text[], $2)', [tokens, lineEndOf(room)]);
    arrivals.set(room, tokens.length);
  }
  return { seqEnd, arrivals };
}
