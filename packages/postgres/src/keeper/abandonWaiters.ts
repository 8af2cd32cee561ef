import type { EngineConfig } from '@usher/engine';
import { isAbandoned } from '@usher/engine/rules';
import type { Queryable } from '../database.js';
import { BATCH } from './limits.js';

/**
 * Waiting tokens not polled for `waitingTtl` are abandoned (`isAbandoned`)
 * and forgotten: read with their rows locked (a poll racing for one waits,
 * then finds it gone), then `usher_abandon` removes exactly those. Answers
 * the lines they left, with their rooms (tokens that arrived since the last step had none).
 */
export async function abandonWaiters(
  db: Queryable,
  now: number,
  config: EngineConfig,
): Promise<{ room: string; line: number }[]> {
  const due = await db.query<{
    token: string;
    last_seen_at: string;
    room: string;
    line: string | null;
  }>(
    `SELECT token, last_seen_at, room, line FROM tokens t
      WHERE usher_waiter_abandoned(t, $1, $2) LIMIT ${BATCH} FOR UPDATE`,
    [now, config.queueWaitingTtlMs],
  );
  const abandoned = due.rows.filter((row) => isAbandoned(Number(row.last_seen_at), now, config));
  if (abandoned.length === 0) return [];
  // The rows are locked: the lines read are the ones usher_abandon removes (it checks the count).
  await db.query('SELECT usher_abandon($1::text[], $2, $3) AS lines', [
    abandoned.map((row) => row.token),
    now,
    config.queueWaitingTtlMs,
  ]);
  return abandoned
    .filter((row) => row.line !== null)
    .map((row) => ({ room: row.room, line: Number(row.line) }));
}
