import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { activeToken, manual, openEngine, START } from './helpers/engines.js';

/**
 * The room (SPEC §9) in the PostgreSQL engine, for what the behaviour suite
 * (room, fairStart and soldOut on both engines) does not see: several
 * gateways over one database, the database's own guard on admissions at
 * issue, and the counter of paid seats sold-out compares.
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

test('a batch of issues at once refuses them while the room admits nobody, and counts what it admitted once', async (t) => {
  const url = await fresh();
  const { engine } = await openEngine(t, url, { config: manual });
  await engine.issueToken('ann'); // admitted at once by the engine: counted by usher_issue_in_room_many
  const { admittedTotal, maxActive } = await engine.room();
  t.is(admittedTotal, 1);
  // As gateways that decided from the room before the operator paused it would apply their decisions, three in one batch.
  const issueAtOnce = (users: string[]) =>
    sql<{ err: string | null; msg: string | null }>(
      url,
      'SELECT err, msg FROM usher_issue_in_room_many($1::json)',
      [
        JSON.stringify(
          users.map((user) => ({
            now: START,
            token: `t-${user}`,
            user_id: user,
            status: 'active',
            issued_at: START,
            expires_at: START + 600_000,
            waiting_ttl: 300_000,
            max_active: maxActive,
            room: 'default',
          })),
        ),
      ],
    );
  await sql(url, 'UPDATE room SET paused = true');
  t.deepEqual(
    (await issueAtOnce(['bob', 'cat'])).map((row) => row.err),
    ['UR409', 'UR409'],
  );
  await sql(url, 'UPDATE room SET paused = false, pending_opening = true, opens_at = $1', [
    START + 1,
  ]);
  t.regex((await issueAtOnce(['bob']))[0]!.msg ?? '', /admits nobody/);
  await sql(url, 'UPDATE room SET pending_opening = false, sold_out = true');
  t.regex((await issueAtOnce(['bob']))[0]!.msg ?? '', /admits nobody/);
  await sql(url, 'UPDATE room SET sold_out = false');
  // ann already has a live token: refused, and not counted.
  t.deepEqual(
    (await issueAtOnce(['ann', 'bob', 'cat'])).map((row) => row.err),
    ['UR409', null, null],
  );
  t.is((await engine.room()).admittedTotal, 3);
  t.is(
    (await sql<{ n: string }>(url, `SELECT count(*) AS n FROM tokens WHERE status = 'active'`))[0]!
      .n,
    '3',
  );
});

test('every payment is logged for sold-out, and each tick takes what was logged into the room', async (t) => {
  const url = await fresh();
  const { engine } = await openEngine(t, url, {
    config: manual,
    catalog: {
      concerts: [{ id: 'c1', title: 'T' }],
      schedules: [
        { id: 's1', concertId: 'c1', startsAt: '2027-01-01T00:00:00Z', totalSeats: 1, price: 5 },
      ],
    },
  });
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await engine.charge(ann, { userId: 'ann', amount: 5 });
  await engine.pay(ann, { reservationId: hold.id });
  t.deepEqual(await sql(url, 'SELECT n FROM paid_log'), [{ n: '1' }]);
  await engine.tick();
  t.like(await engine.room(), { soldOut: true });
  t.like((await engine.issueToken('bob')).token, { status: 'expired', reason: 'sold_out' });
  t.deepEqual(await sql(url, 'SELECT paid_seats FROM room'), [{ paid_seats: '1' }]);
  t.deepEqual(await sql(url, 'SELECT n FROM paid_log'), [], 'each tick takes what was logged');
});
