import type { EngineConfig } from '@usher/engine';
import { isAbandoned } from '@usher/engine/rules';
import type { Queryable } from '../database.js';
import { BATCH } from './limits.js';

/**
 * Waiting tokens not polled for `waitingTtl` are abandoned (`isAbandoned`)
 * and forgotten: read with their rows locked (a poll racing for one waits,
 * then finds it gone), then `usher_abandon` removes exactly those. Answers
 * the lines they left (tokens that arrived since the last step had none).
 */
export async function abandonWaiters(
  db: Queryable,
  now: number,
  config: EngineConfig,
): Promise<number[]> {
  const due = await db.query<{ token: string; last_seen_at: string }>(
    `SELECT token, last_seen_at FROM tokens t
      WHERE usher_waiter_abandoned(t, $1, $2) LIMIT ${BATCH} FOR UPDATE`,
    [now, config.queueWaitingTtlMs],
  );
  const abandoned = due.rows
    .filter((row) => isAbandoned(Number(row.last_seen_at), now, config))
    .map((row) => row.token);
  if (abandoned.length === 0) return [];
  const { rows } = await db.query<{ lines: string[] }>(
    'SELECT usher_abandon($1::text[], $2, $3) AS lines',
    [abandoned, now, config.queueWaitingTtlMs],
  );
  return rows[0]!.lines.map(Number);
}
