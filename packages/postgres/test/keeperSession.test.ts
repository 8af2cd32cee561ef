import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { activeToken, openEngine, simulatedClock } from './helpers/engines.js';

/** The keeper's seat within one process: one engine at a time runs the timers' ticks and sweeps, fenced by an epoch. */
const server = usePostgres(test);
const config = {
  queueTickMs: 1_000,
  holdSweepMs: 5_000,
  holdTtlMs: 3_000,
  tokenActiveTtlMs: 3_600_000,
};

/** Polls `condition` (wall-clock waits, for work the timers started), optionally doing `step` between looks. */
async function eventually(
  condition: () => Promise<boolean> | boolean,
  what: string,
  step?: () => void,
): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    step?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

test('one engine becomes the keeper and its ticks expire holds in the database; when it closes another takes over', async (t) => {
  const url = await createDatabase(server());
  const db = new pg.Client(url);
  await db.connect();
  t.teardown(() => db.end());
  const heldInDatabase = async () =>
    Number(
      (await db.query(`SELECT count(*) AS n FROM reservations WHERE status = 'held'`)).rows[0].n,
    );
  const clock = simulatedClock();
  const { engine: a } = await openEngine(t, url, { config, clock });
  const { engine: b } = await openEngine(t, url, { config, clock, catalog: null });
  t.false(a.isKeeper || b.isKeeper, 'nobody competes before the first tick');

  clock.increment(1_000);
  await eventually(() => a.isKeeper || b.isKeeper, 'a keeper is elected');
  const [keeper, other] = a.isKeeper ? [a, b] : [b, a];
  t.false(other.isKeeper, 'exactly one keeper');

  const ann = await activeToken(other, 'ann');
  await other.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  t.is(await heldInDatabase(), 1);
  await eventually(
    async () => (await heldInDatabase()) === 0,
    'the keeper expired the hold',
    () => clock.increment(500),
  );
  t.is((await db.query<{ epoch: string }>('SELECT epoch FROM keeper')).rows[0]!.epoch, '1');

  await keeper.close();
  await other.reserve(ann, { scheduleId: 's1', seatNo: 2 });
  await eventually(
    () => other.isKeeper,
    'the other engine takes over at a next tick',
    () => clock.increment(500),
  );
  await eventually(
    async () => (await heldInDatabase()) === 0,
    'the new keeper expires holds',
    () => clock.increment(500),
  );
  t.is(
    (await db.query<{ epoch: string }>('SELECT epoch FROM keeper')).rows[0]!.epoch,
    '2',
    'a new epoch for the new keeper',
  );
});

test('a deposed keeper cannot act: its step checks the epoch, writes nothing, and it lets go of the seat', async (t) => {
  const url = await createDatabase(server());
  const db = new pg.Client(url);
  await db.connect();
  t.teardown(() => db.end());
  const clock = simulatedClock();
  const { engine } = await openEngine(t, url, { config, clock });
  const ticks = async () =>
    Number((await db.query('SELECT count(*) AS n FROM queue_ticks')).rows[0].n);
  clock.increment(1_000);
  await eventually(
    async () => engine.isKeeper && (await ticks()) === 1,
    'the keeper is elected and ticks',
  );
  // Another keeper took the epoch (as one that acquired the seat after a network split would).
  await db.query('UPDATE keeper SET epoch = epoch + 1');
  await eventually(
    () => !engine.isKeeper,
    'the deposed keeper lets go',
    () => clock.increment(1_000),
  );
  t.is(await ticks(), 1, 'its step wrote nothing');
  await eventually(
    async () => engine.isKeeper && (await ticks()) === 2,
    'it competes again, wins with a new epoch, and ticks',
    () => clock.increment(1_000),
  );
  t.is((await db.query<{ epoch: string }>('SELECT epoch FROM keeper')).rows[0]!.epoch, '3');
});
