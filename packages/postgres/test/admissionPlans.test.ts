import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine } from './helpers/engines.js';

/**
 * Issue 20: the keeper admits what the rule decided, whatever plan
 * PostgreSQL picks. At the start of a sale the planner has statistics of a
 * nearly empty `tokens` table; the admission once ran as `UPDATE … WHERE
 * token IN (SELECT … ORDER BY line LIMIT n FOR UPDATE)`, which a nested-loop
 * semi join re-ran per outer row, each rescan returning the next tokens: the
 * whole line was admitted past `maxActive`.
 */
const server = usePostgres(test);

async function connect(t: import('ava').ExecutionContext, url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

test('tiny-table statistics, then a burst: a tick admits what the rule decided, never past maxActive', async (t) => {
  const url = await createDatabase(server());
  const config = {
    ...manual,
    queueMaxActive: 4,
    queueAdmitPerTick: 2,
    tokenActiveTtlMs: 60_000,
    queueWaitingTtlMs: 3_600_000,
  };
  const { engine, clock } = await openEngine(t, url, { config });
  const client = await connect(t, url);
  // The start of a sale: four people admitted at once, and statistics of that tiny table (no
  // autovacuum to refresh them during the test).
  for (const user of ['a', 'b', 'c', 'd'])
    t.is((await engine.issueToken(user)).token.status, 'active');
  await client.query('ALTER TABLE tokens SET (autovacuum_enabled = false)');
  await client.query('ANALYZE tokens');
  // The burst: forty more wait.
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => engine.issueToken(`w${i}`)));
  t.true(burst.every((issued) => issued.token.status === 'waiting'));
  // The first four leave; the rule admits admitPerTick of the forty.
  clock.increment(60_000);
  const report = await engine.tick();
  t.is(report.admitted, 2);
  const { rows } = await client.query<{ active: number }>(
    `SELECT count(*)::int AS active FROM tokens WHERE status = 'active'`,
  );
  t.is(rows[0]!.active, 2, 'exactly the two the rule decided');
  t.is((await engine.room()).active, 2);
  // And the next ticks fill the room to maxActive, no further.
  await engine.tick();
  await engine.tick();
  t.is((await engine.room()).active, 4);
});
