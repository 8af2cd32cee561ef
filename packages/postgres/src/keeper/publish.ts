import type { EngineConfig } from '@usher/engine';
import type { Queryable } from '../database.js';
import { TICK_COLUMNS, tickRow, type TickRow } from '../QueueMirror.js';

/** The last published step, if any. */
export async function lastStep(db: Queryable, config: EngineConfig): Promise<TickRow | undefined> {
  const { rows } = await db.query(
    `SELECT ${TICK_COLUMNS} FROM queue_ticks ORDER BY no DESC LIMIT 1`,
  );
  return rows[0] ? tickRow(rows[0], config) : undefined;
}

/** No waiting token can be abandoned before this: the oldest recorded poll (or `now`) plus the waiting TTL. */
export async function nextAbandonAt(
  db: Queryable,
  now: number,
  config: EngineConfig,
): Promise<number> {
  const { rows } = await db.query<{ min: string | null }>(
    `SELECT min(last_seen_at) AS min FROM tokens WHERE status = 'waiting'`,
  );
  const oldest = rows[0]?.min;
  return (
    Math.min(now, oldest === null || oldest === undefined ? now : Number(oldest)) +
    config.queueWaitingTtlMs
  );
}

/** Publishes a step: its `queue_ticks` row, and one notification every engine's mirror LISTENs for. */
export async function publishStep(db: Queryable, tick: TickRow): Promise<void> {
  await db.query(
    `INSERT INTO queue_ticks (${TICK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      tick.no,
      tick.at,
      tick.real,
      tick.lineEnd,
      tick.seqEnd,
      tick.departed,
      tick.admitted,
      tick.hadWaiting,
      tick.waiting,
      tick.active,
      tick.nextAbandonAt,
      JSON.stringify(tick.room),
      JSON.stringify(tick.rooms ?? {}),
    ],
  );
  await db.query(`SELECT pg_notify('usher_tick', $1)`, [String(tick.no)]);
}
