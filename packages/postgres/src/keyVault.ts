import { kidOf, type KeyVault, type StoredKey } from '@usher/engine/signing';
import type { Queryable } from './database.js';

/**
 * The signing keys' vault in PostgreSQL (table `signing_keys`, migration 5):
 * a fresh key is inserted only if its use has no current key (`ON CONFLICT
 * DO NOTHING` on the unique index of current keys, so of gateways starting at
 * once exactly one key per use wins), then every key is read back: each
 * gateway signs with the winner. The schema must be migrated (opening the
 * engine does it).
 *
 * @example
 * ```ts
 * const keys = await SigningKeys.open({ vault: postgresKeyVault(pool) });
 * ```
 */
export function postgresKeyVault(db: Queryable): KeyVault {
  return {
    async loadOrCreate(fresh) {
      for (const key of fresh) {
        await db.query(
          `INSERT INTO signing_keys (kid, use, private_key, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (use) WHERE retired_at IS NULL DO NOTHING`,
          [kidOf(key), key.use, key.privateKey, key.createdAt],
        );
      }
      const { rows } = await db.query<{
        use: StoredKey['use'];
        private_key: string;
        created_at: Date;
        retired_at: Date | null;
      }>('SELECT use, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at');
      return rows.map((row) => ({
        use: row.use,
        privateKey: row.private_key,
        createdAt: row.created_at.toISOString(),
        ...(row.retired_at !== null ? { retiredAt: row.retired_at.toISOString() } : {}),
      }));
    },
  };
}
