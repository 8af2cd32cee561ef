import test from 'ava';
import { createPostgresEngine } from '@usher/postgres';
import { startPostgres } from '@usher/testkit';
import { Database, until } from './processes/database.js';
import { EngineProcess } from './processes/engineProcess.js';

/**
 * Rooms of concerts (SPEC §12) and SPEC §8 "One keeper": two keeper
 * processes over one database with three rooms (`a`, `b` and the default
 * one), each with its own `maxActive`. The keeper is SIGKILLed; the other
 * process goes on admitting in every room. Sampled in the database
 * throughout: no room ever has more active tokens than its `maxActive`, and
 * no room admits out of order (every active token of a room stands before
 * every waiting one in the room's line: there is no opening, so no draw, and
 * admission follows the line).
 */
const TICK = 150;
const config = {
  queueTickMs: TICK,
  queueAdmitPerTick: 2,
  queueMaxActive: 4,
  // Short active periods keep tokens leaving, so there is always someone to admit.
  tokenActiveTtlMs: 600,
  queueWaitingTtlMs: 120_000,
  holdSweepMs: 3_600_000,
};
const MAX_ACTIVE: Record<string, number> = { default: 4, a: 3, b: 1 };
const PER_ROOM = 150;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("two keepers over three rooms: the keeper killed, the other goes on admitting in every room, never past a room's maxActive nor out of its line's order", async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.remove());
  const db = new Database(server.connectionString);
  t.teardown(() => db.close());
  // The joins come from an engine in this process that never keeps.
  const engine = await createPostgresEngine({
    connectionString: server.connectionString,
    config,
    keeper: false,
  });
  t.teardown(() => engine.close());
  await engine.loadCatalog({
    concerts: [
      { id: 'a', title: 'A', room: { maxActive: MAX_ACTIVE['a']!, shuffle: false } },
      { id: 'b', title: 'B', room: { maxActive: MAX_ACTIVE['b']!, admitPerTick: 1 } },
      { id: 'plain', title: 'Plain' },
    ],
    schedules: [],
  });
  const joins: Promise<unknown>[] = [];
  for (let i = 0; i < PER_ROOM; i++)
    for (const concertId of ['a', 'b', 'plain'])
      joins.push(engine.issueToken(`u${i}`, { concertId }));
  await Promise.all(joins);

  const first = await EngineProcess.start({ connectionString: server.connectionString, config });
  t.teardown(() => first.stop());
  await until('the first process to be the keeper', 10_000, () => first.isKeeper(), 50);
  const second = await EngineProcess.start({ connectionString: server.connectionString, config });
  t.teardown(() => second.stop());
  t.false(await second.isKeeper(), 'one keeper at a time');

  let sampling = true;
  let samples = 0;
  const most: Record<string, number> = {};
  const outOfOrder: string[] = [];
  const sampler = (async () => {
    while (sampling) {
      const rows = await db.rows<{ room: string; active: string[]; first_waiting: string | null }>(
        `SELECT room,
                coalesce(array_agg(expires_at || ':' || line) FILTER (WHERE status = 'active'), '{}') AS active,
                min(line) FILTER (WHERE status = 'waiting') AS first_waiting
           FROM tokens GROUP BY room`,
      );
      const after = Date.now();
      for (const row of rows) {
        const active = row.active.map((entry) => entry.split(':').map(Number) as [number, number]);
        // Tokens still active after the snapshot were active together.
        const live = active.filter(([expiresAt]) => expiresAt > after).length;
        most[row.room] = Math.max(most[row.room] ?? 0, live);
        const lastAdmitted = Math.max(-Infinity, ...active.map(([, line]) => line));
        if (row.first_waiting !== null && lastAdmitted > Number(row.first_waiting))
          outOfOrder.push(`${row.room}: line ${lastAdmitted} active, ${row.first_waiting} waits`);
      }
      samples++;
      await sleep(15);
    }
  })();

  const admittedSince = async (at: number) => {
    const [row] = await db.rows<Record<string, string>>(
      `SELECT coalesce(sum(admitted), 0) AS default,
              coalesce(sum((rooms->'a'->>'admitted')::int), 0) AS a,
              coalesce(sum((rooms->'b'->>'admitted')::int), 0) AS b
         FROM queue_ticks WHERE real AND at > $1`,
      [at],
    );
    return { default: Number(row!['default']), a: Number(row!['a']), b: Number(row!['b']) };
  };
  await sleep(1_500);
  const before = await admittedSince(0);
  t.true(
    before.default > 0 && before.a > 0 && before.b > 0,
    'the first keeper admits in every room',
  );

  await first.kill();
  const killedAt = Date.now();
  await until('admissions in every room after the kill', 10_000, async () => {
    const since = await admittedSince(killedAt);
    return since.default > 0 && since.a > 0 && since.b > 0;
  });
  t.true(await second.isKeeper(), 'the other process took over');
  await sleep(1_500);
  sampling = false;
  await sampler;

  const after = await admittedSince(killedAt);
  const rooms = await engine.rooms();
  t.log(
    `${samples} samples; admitted before the kill ${JSON.stringify(before)}, after ${JSON.stringify(after)}; most active at once ${JSON.stringify(most)}`,
  );
  t.deepEqual(outOfOrder, [], 'every room admits in its line order');
  for (const [room, max] of Object.entries(MAX_ACTIVE))
    t.true((most[room] ?? 0) <= max, `room ${room}: at most ${max} active, saw ${most[room]}`);
  for (const room of rooms) {
    const admitted = room.admittedTotal;
    t.true(admitted > 0, `room ${room.id} admitted`);
    t.is(
      room.waiting + admitted,
      PER_ROOM,
      `room ${room.id}: every token waits or was admitted once`,
    );
  }
});
