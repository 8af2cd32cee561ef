import test from 'ava';
import fc from 'fast-check';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine, settle } from './helpers/engines.js';

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

/** Planner settings a property run may turn off (each one changes which plans PostgreSQL may pick). */
const PLANNER = [
  'enable_hashjoin',
  'enable_mergejoin',
  'enable_nestloop',
  'enable_seqscan',
  'enable_indexscan',
  'enable_indexonlyscan',
  'enable_bitmapscan',
  'enable_sort',
  'enable_material',
  'enable_memoize',
  'enable_hashagg',
] as const;

type Step =
  | { readonly issue: number; readonly on: number }
  | { readonly tick: true }
  | { readonly advance: number }
  | { readonly pay: number };

test('under any planner settings and statistics, no keeper tick or issue leaves more than maxActive tokens active', async (t) => {
  let run = 0;
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ issue: fc.integer({ min: 1, max: 12 }), on: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ tick: fc.constant(true as const) }),
    fc.record({ advance: fc.integer({ min: 0, max: 90_000 }) }),
    fc.record({ pay: fc.nat() }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        off: fc.subarray([...PLANNER]),
        rows: fc.constantFrom(0, 1, 10_000),
        keep: fc.boolean(),
        maxActive: fc.integer({ min: 1, max: 5 }),
        admitPerTick: fc.integer({ min: 1, max: 6 }),
        steps: fc.array(step, { minLength: 4, maxLength: 20 }),
      }),
      async ({ off, rows, keep, maxActive, admitPerTick, steps }) => {
        const url = await createDatabase(server());
        const admin = await connect(t, url);
        const name = new URL(url).pathname.slice(1);
        for (const setting of off) await admin.query(`ALTER DATABASE ${name} SET ${setting} = off`);
        const config = {
          ...manual,
          queueMaxActive: maxActive,
          queueAdmitPerTick: admitPerTick,
          tokenActiveTtlMs: 60_000,
          queueWaitingTtlMs: 120_000,
          holdTtlMs: 30_000,
        };
        const a = await openEngine(t, url, { config });
        const b = await openEngine(t, url, { config, clock: a.clock, catalog: null });
        const engines = [a.engine, b.engine];
        // The statistics the planner starts from: `rows` kept tokens of other users, analysed, then kept or not.
        await admin.query('ALTER TABLE tokens SET (autovacuum_enabled = false)');
        await admin.query(
          `INSERT INTO tokens (token, user_id, status, issued_at, expires_at, last_seen_at)
           SELECT 'kept-' || n, 'kept-' || n, 'expired', 0, $2, 0 FROM generate_series(1, $1::int) AS n`,
          [rows, Date.UTC(2100, 0, 1)],
        );
        await admin.query('ANALYZE tokens');
        if (!keep) await admin.query(`DELETE FROM tokens WHERE token LIKE 'kept-%'`);
        const active = async () =>
          (
            await admin.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM tokens WHERE status = 'active' AND expires_at > $1`,
              [a.clock.now()],
            )
          ).rows[0]!.n;
        const tokens: string[] = [];
        let users = 0;
        let seat = 0;
        for (const [i, next] of steps.entries()) {
          if ('issue' in next) {
            const issued = await Promise.all(
              Array.from({ length: next.issue }, () =>
                settle(engines[next.on]!.issueToken(`r${run}-u${users++}`)),
              ),
            );
            for (const answer of issued) if (answer.ok) tokens.push(answer.value.token.token);
          } else if ('tick' in next) {
            await engines[i % 2]!.tick();
          } else if ('advance' in next) {
            a.clock.increment(next.advance);
          } else if (tokens.length > 0) {
            // Someone pays for a seat (their token completes and leaves `active`), if they can.
            const token = tokens[next.pay % tokens.length]!;
            const hold = await settle(
              a.engine.reserve(token, { scheduleId: 's1', seatNo: (seat++ % 10) + 1 }),
            );
            if (hold.ok) {
              await settle(a.engine.charge(token, { userId: hold.value.userId, amount: 1_000 }));
              await settle(a.engine.pay(token, { reservationId: hold.value.id }));
            }
          }
          const now = await active();
          if (now > maxActive) {
            t.log(`step ${i} (${JSON.stringify(next)}): ${now} active, maxActive ${maxActive}`);
            return false;
          }
        }
        run++;
        await Promise.all(engines.map((engine) => engine.close()));
        return true;
      },
    ),
    {
      numRuns: Number(process.env['PLANS_RUNS'] ?? 12),
      seed: Number(process.env['PLANS_SEED'] ?? Date.now() % 100_000),
    },
  );
  t.pass();
});
