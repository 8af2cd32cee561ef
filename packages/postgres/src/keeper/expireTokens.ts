import { statusAt, type Lifecycles } from '@usher/engine/rules';
import type { Queryable } from '../database.js';
import { BATCH } from './limits.js';

/**
 * Active tokens past their deadline expire (the token machine's timeout,
 * `statusAt`) and are forgotten, as in the embedded engine: read with their
 * rows locked, then `usher_expire_tokens` removes exactly those.
 */
export async function expireTokens(
  db: Queryable,
  now: number,
  lifecycles: Lifecycles,
): Promise<number> {
  const due = await db.query<{
    token: string;
    user_id: string;
    seq: string | null;
    issued_at: string;
    expires_at: string;
  }>(
    `SELECT token, user_id, seq, issued_at, expires_at FROM tokens t
      WHERE usher_token_overdue(t, $1) LIMIT ${BATCH} FOR UPDATE`,
    [now],
  );
  const expired = due.rows
    .filter(
      (row) =>
        statusAt(
          {
            token: row.token,
            userId: row.user_id,
            status: 'active',
            seq: Number(row.seq),
            issuedAt: Number(row.issued_at),
            expiresAt: Number(row.expires_at),
          },
          now,
          lifecycles,
        ) === 'expired',
    )
    .map((row) => row.token);
  if (expired.length > 0)
    await db.query('SELECT usher_expire_tokens($1::text[], $2)', [expired, now]);
  return expired.length;
}
