import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine } from './helpers/engines.js';

/**
 * A keeper's write that would not do exactly what its rule decided (rows
 * affected ≠ rows decided) rolls the whole step back, fails loudly (the
 * SQLSTATE `UR500`) and is reported to the observers as a fault, which the
 * server logs: never half-applied. Provoked here by a published step whose
 * count of waiting tokens is wrong, so the rule decides to admit more than
 * are waiting.
 */
const server = usePostgres(test);

test('a tick that could not admit what it decided changes nothing, throws, and a timer tick reports the fault', async (t) => {
  const url = await createDatabase(server());
  const config = { ...manual, queueMaxActive: 10, queueAdmitPerTick: 5, queueTickMs: 1_000 };
  const { engine, clock } = await openEngine(t, url, { config: { ...config, queueMaxActive: 1 } });
  const faults: { source: string; error: Error }[] = [];
  let faulted: () => void = () => undefined;
  const reported = new Promise<void>((resolve) => (faulted = resolve));
  engine.observe({
    fault: (report) => {
      faults.push(report);
      faulted();
    },
  });
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  await engine.issueToken('first'); // active at once: the others wait
  for (const user of ['a', 'b']) await engine.issueToken(user);
  await engine.updateRoom({ maxActive: 10 }); // published as a step, which lines a and b up
  await client.query(
    'UPDATE queue_ticks SET waiting = waiting + 3 WHERE no = (SELECT max(no) FROM queue_ticks)',
  );
  const state = async () =>
    (
      await client.query(
        `SELECT (SELECT count(*)::int FROM tokens WHERE status = 'active') AS active,
                (SELECT count(*)::int FROM queue_ticks) AS steps,
                (SELECT admitted_total::int FROM room) AS admitted`,
      )
    ).rows[0];
  const before = await state();
  // Asked for by hand: the tick decides to admit min(5, 10 − 1, 2 + 3) = 5, finds 2 waiting, rolls back.
  const error = await t.throwsAsync(engine.tick());
  t.is((error as { code?: string }).code, 'UR500');
  t.regex(error!.message, /lines picked for admission: 2 rows where 5 were decided/);
  t.deepEqual(await state(), before, 'nothing of the step was applied');
  // The keeper's own timer: the same fault, reported (the server logs it at error level).
  clock.increment(config.queueTickMs);
  await reported;
  t.is(faults[0]!.source, 'tick');
  t.is((faults[0]!.error as { code?: string }).code, 'UR500');
  t.deepEqual(await state(), before);
});

test('sold-out keeps exactly the waiting tokens decided, or none: usher_sell_out_room raises UR500 and ends nothing', async (t) => {
  const url = await createDatabase(server());
  const { engine } = await openEngine(t, url, { config: { ...manual, queueMaxActive: 1 } });
  await engine.issueToken('first'); // active at once: the others wait
  for (const user of ['a', 'b']) await engine.issueToken(user);
  await engine.tick(); // lines a and b up; nobody is admitted
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  const waiting = async () =>
    (
      await client.query<{ status: string; reason: string | null }>(
        `SELECT status, reason FROM tokens WHERE user_id IN ('a', 'b') ORDER BY user_id`,
      )
    ).rows;
  const before = await waiting();
  t.deepEqual(before, [
    { status: 'waiting', reason: null },
    { status: 'waiting', reason: null },
  ]);
  // A step that believed 3 were waiting: the 2 there are not ended.
  const error = await t.throwsAsync(client.query("SELECT usher_sell_out_room('default', 3, 1000)"));
  t.is((error as { code?: string }).code, 'UR500');
  t.regex(error!.message, /waiting tokens sold out: 2 rows where 3 were decided/);
  t.deepEqual(await waiting(), before);
  // As decided: both end, kept with their reason until the time given.
  await client.query('BEGIN');
  const { rows } = await client.query<{ lines: string[] }>(
    "SELECT usher_sell_out_room('default', 2, 1000) AS lines",
  );
  t.is(rows[0]!.lines.length, 2);
  t.deepEqual(await waiting(), [
    { status: 'expired', reason: 'sold_out' },
    { status: 'expired', reason: 'sold_out' },
  ]);
  await client.query('ROLLBACK');
});
