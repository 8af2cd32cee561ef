import { checkSpend } from '@usher/engine/rules';
import type { CommandRunner } from '../CommandRunner.js';
import { query } from '../database.js';
import { requireStorable } from '../storable.js';

/**
 * Spends a proof-of-work solution once (see `UsherEngine.spendChallenge`):
 * `true` when this insert into `spent_challenges` (migration 2) is the first,
 * `false` when the row is there (spent before, on any gateway). The primary
 * key has the last word: two gateways racing with one solution cannot both
 * insert it. Committed on its own, as every answered write: a restart
 * forgets nothing. The keeper's sweep forgets it once its challenge expired
 * (`usher_spent_forgettable`).
 */
export function spendChallenge(
  runner: CommandRunner,
  id: unknown,
  expiresAt: unknown,
): Promise<boolean> {
  return runner.run(async () => {
    const spend = checkSpend(id, expiresAt);
    requireStorable(spend.id, 'challenge id');
    const started = performance.now();
    const { rowCount } = await query(
      runner.db,
      'INSERT INTO spent_challenges (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
      [spend.id, spend.expiresAt],
    );
    if (rowCount !== 1) return false;
    runner.observers.tell((observer) =>
      observer.commit?.({ command: 'spendChallenge', durationMs: performance.now() - started }),
    );
    return true;
  });
}
