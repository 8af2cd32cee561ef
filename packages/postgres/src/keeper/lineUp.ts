import type { Queryable } from '../database.js';

/**
 * Arrivals (waiting tokens without a line) get the next line numbers, in
 * `seq` order, after `lineEnd`: read, then numbered by token through the
 * primary key (`usher_line_up`), O(arrivals) whatever the planner knows.
 * Under the step lock nobody draws a number: everything up to `seqEnd` is
 * settled. Answers `seqEnd` and how many arrived.
 */
export async function lineUp(
  db: Queryable,
  lineEnd: number,
): Promise<{ seqEnd: number; arrivals: number }> {
  const drawn = await db.query<{ seq_end: string }>(
    `SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS seq_end FROM token_seq`,
  );
  const seqEnd = Number(drawn.rows[0]!.seq_end);
  const unlined = await db.query<{ token: string }>(
    `SELECT token FROM tokens t WHERE usher_arrival(t) ORDER BY seq FOR UPDATE`,
  );
  const tokens = unlined.rows.map((row) => row.token);
  if (tokens.length > 0) await db.query('SELECT usher_line_up($1::text[], $2)', [tokens, lineEnd]);
  return { seqEnd, arrivals: tokens.length };
}
