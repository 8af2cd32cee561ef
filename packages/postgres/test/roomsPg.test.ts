import test from 'ava';
import pg from 'pg';
import { createDatabase, START, usePostgres } from '@usher/testkit';
import { manual, openEngine } from './helpers/engines.js';

/**
 * Rooms of concerts on PostgreSQL (migration 7): lines are numbered per room,
 * so a room's writes name their room. `usher_admit_heads` admits exactly the
 * heads decided, in their room only, or raises `UR500` and admits nothing.
 */
const server = usePostgres(test);

test("usher_admit_heads admits the first lines of each room named, by key, never another room's same line numbers; a count that does not match raises UR500 and admits nothing", async (t) => {
  const url = await createDatabase(server());
  const { engine } = await openEngine(t, url, {
    config: { ...manual, queueMaxActive: 1 },
    catalog: {
      concerts: [
        {
          id: 'r',
          title: 'R',
          room: { opensAt: new Date(START + 3_600_000).toISOString(), shuffle: false },
        },
        { id: 'plain', title: 'Plain' },
      ],
      schedules: [],
    },
  });
  await engine.issueToken('first'); // the default room's one place
  for (const user of ['a', 'b', 'c']) {
    await engine.issueToken(user, { concertId: 'r' });
    await engine.issueToken(user); // the default room's line: the same line numbers
  }
  await engine.tick(); // lines both rooms up; r waits for its opening, the default room is full
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  const state = async () =>
    (
      await client.query<{ room: string; user_id: string; status: string; line: string | null }>(
        `SELECT room, user_id, status, line FROM tokens WHERE user_id <> 'first' ORDER BY room, line`,
      )
    ).rows.map((row) => `${row.room}:${row.line}:${row.user_id}:${row.status}`);
  const before = await state();
  t.deepEqual(before, [
    'default:1:a:waiting',
    'default:2:b:waiting',
    'default:3:c:waiting',
    'r:1:a:waiting',
    'r:2:b:waiting',
    'r:3:c:waiting',
  ]);

  const error = await t.throwsAsync(
    client.query(`SELECT * FROM usher_admit_heads(ARRAY['r'], ARRAY[0], ARRAY[5], 1000)`),
  );
  t.is((error as { code?: string }).code, 'UR500');
  t.regex(error!.message, /lines picked for admission: 3 rows where 5 were decided/);
  t.deepEqual(await state(), before, 'nothing admitted');

  const { rows } = await client.query<{ room: string; lines: string[] }>(
    `SELECT * FROM usher_admit_heads(ARRAY['r'], ARRAY[0], ARRAY[2], $1)`,
    [START + 600_000],
  );
  t.deepEqual(rows, [{ room: 'r', lines: ['1', '2'] }]);
  t.deepEqual(await state(), [
    'default:1:a:waiting',
    'default:2:b:waiting',
    'default:3:c:waiting',
    'r:1:a:active',
    'r:2:b:active',
    'r:3:c:waiting',
  ]);
  t.like(
    (await client.query('SELECT admitted_total FROM rooms WHERE id = $1', ['r'])).rows[0],
    { admitted_total: '2' },
    "counted in the room's own row",
  );
});
