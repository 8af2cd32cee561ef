import test from 'ava';
import pg from 'pg';
import { migrate, migrations } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine, START } from './helpers/engines.js';

/**
 * The room (SPEC §9) in the PostgreSQL engine, for what the behaviour suite
 * (room, fairStart and soldOut on both engines) does not see: several
 * gateways over one database, the database's own guard on admissions at
 * issue, and the counters migration 005 starts from.
 */
const server = usePostgres(test);
const fresh = () => createDatabase(server());

async function sql<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

test('every gateway sees a room change at once: token views on another gateway, and the keeper that ticks', async (t) => {
  const url = await fresh();
  const config = { ...manual, queueMaxActive: 1, queueWaitingTtlMs: 86_400_000 };
  const { engine: keeper, clock } = await openEngine(t, url, { config });
  const { engine: gateway } = await openEngine(t, url, {
    config,
    clock,
    catalog: null,
    keeper: false,
  });
  await keeper.issueToken('holder');
  const tokens = [];
  for (let i = 0; i < 5; i++) tokens.push((await gateway.issueToken(`u${i}`)).token.token);
  await keeper.tick();

  const opensAt = new Date(START + 60_000).toISOString();
  await gateway.updateRoom({ opensAt, maxActive: 3 });
  // The change was published as a step: the keeper's mirror has it without a tick, as the other gateways do.
  t.like(await keeper.getToken(tokens[0]!), { position: null, opensAt });
  t.like(await keeper.room(), { opensAt, maxActive: 3, waiting: 5, active: 1 });
  t.is((await keeper.tick()).admitted, 0, 'closed until the opening, whatever maxActive says');

  clock.set(START + 60_000);
  t.is(
    (await keeper.tick()).admitted,
    2,
    'the keeper reads the room at each tick: drawn, then admitted up to the new maxActive',
  );
  const positions = await Promise.all(
    tokens.map(async (token) => (await gateway.getToken(token)).position),
  );
  t.deepEqual(positions.filter((position) => position !== 0).sort(), [1, 2, 3]);
  const [last] = await sql<{ published: Record<string, unknown> }>(
    url,
    'SELECT room AS published FROM queue_ticks ORDER BY no DESC LIMIT 1',
  );
  t.like(last?.published, { pendingOpening: false, maxActive: 3, opensAt: START + 60_000 });
});

test('the database refuses an admission at issue while the room admits nobody, and counts the ones it lets through', async (t) => {
  const url = await fresh();
  const { engine } = await openEngine(t, url, { config: manual });
  await engine.issueToken('ann'); // admitted at once: counted by the trigger
  const admit = (user: string) =>
    sql(url, `SELECT usher_apply($1::jsonb, $2, $3::jsonb)`, [
      JSON.stringify([
        {
          type: 'tokenIssued',
          token: {
            token: `t-${user}`,
            userId: user,
            status: 'active',
            seq: 0,
            issuedAt: START,
            expiresAt: START + 600_000,
          },
        },
      ]),
      START,
      JSON.stringify({ userId: user, waitingTtlMs: 300_000, maxActive: 1_000 }),
    ]);
  // As a gateway that decided from the room before the operator paused it would apply its decision.
  await sql(url, 'UPDATE room SET paused = true');
  await t.throwsAsync(admit('bob'), { message: /admits nobody/, code: 'UR409' });
  await sql(url, 'UPDATE room SET paused = false, pending_opening = true, opens_at = $1', [
    START + 1,
  ]);
  await t.throwsAsync(admit('bob'), { code: 'UR409' });
  await sql(url, 'UPDATE room SET pending_opening = false');
  await admit('bob');
  t.is((await engine.room()).admittedTotal, 2);
  t.is(
    (await sql<{ n: string }>(url, `SELECT count(*) AS n FROM tokens WHERE status = 'active'`))[0]!
      .n,
    '2',
  );
});

test('a batch of issues at once refuses them while the room admits nobody, and counts what it admitted once', async (t) => {
  const url = await fresh();
  const { engine } = await openEngine(t, url, { config: manual });
  await engine.issueToken('ann'); // admitted at once by the engine: counted by usher_issue_many
  const { admittedTotal, maxActive } = await engine.room();
  t.is(admittedTotal, 1);
  // As gateways that decided from the room before the operator paused it would apply their decisions, three in one batch.
  const ISSUE_AT_ONCE = `SELECT o_err, o_msg FROM usher_issue_many($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])`;
  const atOnce = (users: string[]) => [
    users.map(() => START),
    users.map((user) => `t-${user}`),
    users,
    users.map(() => 'active'),
    users.map(() => START),
    users.map(() => START + 600_000),
    users.map(() => 300_000),
    users.map(() => maxActive),
  ];
  const issueAtOnce = (users: string[]) =>
    sql<{ o_err: string | null; o_msg: string | null }>(url, ISSUE_AT_ONCE, atOnce(users));
  await sql(url, 'UPDATE room SET paused = true');
  t.deepEqual(
    (await issueAtOnce(['bob', 'cat'])).map((row) => row.o_err),
    ['UR409', 'UR409'],
  );
  await sql(url, 'UPDATE room SET paused = false, sold_out = true');
  t.regex((await issueAtOnce(['bob']))[0]!.o_msg ?? '', /admits nobody/);
  await sql(url, 'UPDATE room SET sold_out = false');
  // ann already has a live token: refused, and not counted.
  t.deepEqual(
    (await issueAtOnce(['ann', 'bob', 'cat'])).map((row) => row.o_err),
    ['UR409', null, null],
  );
  t.is((await engine.room()).admittedTotal, 3);
  t.is(
    (await sql<{ n: string }>(url, `SELECT count(*) AS n FROM tokens WHERE status = 'active'`))[0]!
      .n,
    '3',
  );
  // The trigger stands aside only while usher_issue_many runs: an active token inserted later in the same
  // transaction (as the generic usher_apply would) is still checked and counted by it.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  await client.query('BEGIN');
  await client.query(ISSUE_AT_ONCE, atOnce(['dan']));
  t.not(
    (await client.query<{ s: string | null }>(`SELECT current_setting('usher.issuing', true) AS s`))
      .rows[0]!.s,
    'on',
  );
  await client.query(
    `INSERT INTO tokens (token, user_id, status, issued_at, expires_at, last_seen_at) VALUES ('t-eve', 'eve', 'active', $1, $2, $1)`,
    [START, START + 600_000],
  );
  await client.query('COMMIT');
  t.is((await engine.room()).admittedTotal, 5, 'dan counted by the batch, eve by the trigger');
});

test('migration 005 logs the payments made before it, so sold-out counts them', async (t) => {
  const url = await fresh();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  t.teardown(() => pool.end());
  // A database as the previous version left it: migrations 1 to 4, with one seat of one schedule paid.
  await pool.query(
    'CREATE TABLE usher_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  for (const migration of migrations.filter((each) => each.version < 5)) {
    await pool.query(migration.sql);
    await pool.query('INSERT INTO usher_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
  }
  await pool.query(`INSERT INTO concerts VALUES ('c1', '{"id":"c1","title":"T"}')`);
  await pool.query(
    `INSERT INTO schedules VALUES ('s1', 'c1', '2027-01-01T00:00:00Z', 1, '{"id":"s1","concertId":"c1","startsAt":"2027-01-01T00:00:00Z","totalSeats":1,"prices":[{"from":1,"to":1,"price":5}]}')`,
  );
  await pool.query(`INSERT INTO reservations VALUES ('r1', 'ann', 's1', 1, 5, 'paid', 0, 1, 1)`);
  await pool.query(`INSERT INTO wallets VALUES ('ann', 0, 5, 5)`);
  await pool.query(`INSERT INTO payments VALUES ('p1', 'r1', 'ann', 5, 0, 1)`);
  t.deepEqual(
    await migrate(pool),
    migrations.filter((each) => each.version >= 5).map((each) => each.version),
    'the room, then the typed apply functions, the bound of active tokens and what came after',
  );
  t.deepEqual((await pool.query('SELECT n FROM paid_log')).rows, [{ n: '1' }]);

  const { engine } = await openEngine(t, url, { config: manual, catalog: null });
  await engine.tick();
  t.like(await engine.room(), { soldOut: true });
  t.like((await engine.issueToken('bob')).token, { status: 'expired', reason: 'sold_out' });
  t.deepEqual((await pool.query('SELECT paid_seats FROM room')).rows, [{ paid_seats: '1' }]);
  t.deepEqual(
    (await pool.query('SELECT n FROM paid_log')).rows,
    [],
    'each tick takes what was logged',
  );
});
