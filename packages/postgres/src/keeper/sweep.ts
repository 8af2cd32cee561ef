import type { EngineConfig } from '@usher/engine';
import type { Lifecycles } from '@usher/engine/rules';
import type { Queryable } from '../database.js';
import { expireHolds } from './expireHolds.js';

/**
 * The safety sweep (under the step lock): overdue holds expire; expired and
 * cancelled reservations past their retention, keys past `idempotencyTtl`,
 * kept tokens past their keep time (paid or sold out), spent proof-of-work
 * solutions whose challenge has expired and old published steps are forgotten.
 */
export async function sweep(
  db: Queryable,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
): Promise<void> {
  await expireHolds(db, now, lifecycles);
  await db.query(
    `DELETE FROM reservations WHERE status IN ('expired', 'cancelled') AND ended_at <= $1`,
    [now - config.reservationRetentionMs],
  );
  await db.query(`DELETE FROM idempotency_keys WHERE created_at <= $1`, [
    now - config.idempotencyTtlMs,
  ]);
  await db.query(`DELETE FROM tokens WHERE status = 'expired' AND usher_past(expires_at, $1)`, [
    now,
  ]);
  await db.query(`DELETE FROM spent_challenges s WHERE usher_spent_forgettable(s, $1)`, [now]);
  // Engines that fell further behind than this reload the line from the tokens.
  await db.query(`DELETE FROM queue_ticks WHERE no < (SELECT max(no) FROM queue_ticks) - 10000`);
}
