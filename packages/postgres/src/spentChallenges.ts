import { checkSpend } from '@usher/engine/rules';
import type { Queryable } from './database.js';

/**
 * Spends a proof-of-work solution once (migration 10's `spent_challenges`):
 * `true` when this insert is the first, `false` when the row is there (spent
 * before, on any gateway). The primary key has the last word: two gateways
 * racing with one solution cannot both insert it. Committed on its own, with
 * `synchronous_commit` on as every answered write: a restart forgets nothing.
 */
export async function spendChallenge(
  db: Queryable,
  id: unknown,
  expiresAt: unknown,
): Promise<boolean> {
  const spend = checkSpend(id, expiresAt);
  const { rowCount } = await db.query(
    'INSERT INTO spent_challenges (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
    [spend.id, spend.expiresAt],
  );
  return rowCount === 1;
}

/** Forgets the solutions whose challenges have expired at `now` (the rule's `isSpentForgettable`, in SQL): run by the keeper's sweep. */
export async function forgetSpentChallenges(db: Queryable, now: number): Promise<void> {
  await db.query('DELETE FROM spent_challenges WHERE expires_at <= $1', [now]);
}
