import test from 'ava';
import pg from 'pg';
import { SigningKeys } from '@usher/engine/signing';
import { createPostgresEngine, postgresKeyVault } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';

/**
 * The signing keys in PostgreSQL (migration 5): generated once, by whichever
 * gateway comes first, and then every gateway and every restart signs with it.
 */
const server = usePostgres(test);

test('two gateways starting at once on a new database get one key per use, and keep it after a restart', async (t) => {
  for (let round = 0; round < 4; round++) {
    const url = await createDatabase(server());
    const gateways = await Promise.all(
      [1, 2].map(async () => {
        const pool = new pg.Pool({ connectionString: url, max: 8 });
        const engine = await createPostgresEngine({ pool, keeper: false });
        const keys = await SigningKeys.open({ vault: postgresKeyVault(pool) });
        return { pool, engine, keys };
      }),
    );
    const [a, b] = gateways as [(typeof gateways)[0], (typeof gateways)[0]];
    t.deepEqual(a.keys.jwks(), b.keys.jwks(), `round ${round}`);
    t.is(a.keys.jwks().keys.length, 2);
    const pass = await a.keys.sign('pass', { sub: 'ann', room: 'default' });
    t.like(await b.keys.verify('pass', pass), { sub: 'ann' });
    const { rows } = await a.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM signing_keys',
    );
    t.is(rows[0]!.n, 2);
    for (const { engine, pool } of gateways) {
      await engine.close();
      await pool.end();
    }
    // A restart: a new pool, the same keys.
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const restarted = await SigningKeys.open({ vault: postgresKeyVault(pool) });
    t.deepEqual(restarted.jwks(), a.keys.jwks());
    await pool.end();
  }
});

test('rotation: a retired key keeps verifying, a new one is made once', async (t) => {
  const url = await createDatabase(server());
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  t.teardown(() => pool.end());
  const engine = await createPostgresEngine({ pool, keeper: false });
  t.teardown(() => engine.close());
  const old = await SigningKeys.open({ vault: postgresKeyVault(pool) });
  const pass = await old.sign('pass', { sub: 'ann' });
  // What docs/operating.md says: retire the current key, then restart the gateways.
  await pool.query(
    "UPDATE signing_keys SET retired_at = now() WHERE use = 'pass' AND retired_at IS NULL",
  );
  const [x, y] = await Promise.all([
    SigningKeys.open({ vault: postgresKeyVault(pool) }),
    SigningKeys.open({ vault: postgresKeyVault(pool) }),
  ]);
  t.is(x.kid('pass'), y.kid('pass'));
  t.not(x.kid('pass'), old.kid('pass'));
  t.is(x.kid('ticket'), old.kid('ticket'));
  t.is(x.jwks().keys.length, 3);
  t.like(await x.verify('pass', pass), { sub: 'ann' });
});
