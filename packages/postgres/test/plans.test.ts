import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { openEngine } from './helpers/engines.js';

/**
 * Issue 22's open point (migration 10): a hold's and a payment's checks read
 * the user's rows, or the row by its key, whatever plan PostgreSQL picks. A
 * PL/pgSQL function's statements get a generic plan (parameters unknown),
 * costed with the statistics of the moment: at the start of a sale, those of
 * nearly empty tables, under which a scan of every live hold, seat or active
 * token once looked as cheap as a probe by key, and was taken (bench/RESULTS.md,
 * "PostgreSQL: where a hold's and a payment's CPU goes").
 */
const server = usePostgres(test);

const USERS = 1_000;
const HOLDS_PER_USER = 2;

test("with the statistics of nearly empty tables, a hold's and a payment's checks read a few buffers, not every live row", async (t) => {
  const url = await createDatabase(server());
  const { engine, clock } = await openEngine(t, url, {
    config: {
      queueTickMs: 3_600_000,
      holdSweepMs: 3_600_000,
      queueMaxActive: USERS,
      maxHoldsPerUser: HOLDS_PER_USER,
      maxTicketsPerUser: 100,
    },
    catalog: {
      concerts: [{ id: 'c', title: 'Plans' }],
      schedules: [
        {
          id: 's',
          concertId: 'c',
          startsAt: '2027-07-01T10:00:00Z',
          totalSeats: USERS * HOLDS_PER_USER,
          price: 1_000,
        },
      ],
    },
  });
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  // The start of a sale: tables never analyzed, and no autovacuum to analyze them during the test.
  for (const table of ['tokens', 'reservations', 'reservation_seats', 'tickets'])
    await client.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  // A session plans each statement once, while the tables are empty (a pool's sessions do at the opening
  // of a sale), and keeps the generic plan: then the sale goes on.
  await client.query('SET plan_cache_mode = force_generic_plan');
  const now = clock.now();
  const hold = { id: 'H-plans', seatNo: 1 };
  let token = 'T-none';
  const hits = async (call: () => string): Promise<number | undefined> => {
    await client.query('BEGIN');
    try {
      // A reservation just paid (its seats follow), for the tickets of a payment.
      await client.query(`UPDATE reservations SET status = 'paid', ended_at = $1 WHERE id = $2`, [
        now,
        hold.id,
      ]);
      const { rows } = await client.query(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT ${call()}`,
      );
      return rows[0]['QUERY PLAN'][0].Plan['Shared Hit Blocks'] as number;
    } catch {
      return undefined; // planned all the same (on empty tables, a check finds nothing)
    } finally {
      await client.query('ROLLBACK');
    }
  };
  const tickets = () =>
    JSON.stringify([
      { id: 'T-plans', seat_no: hold.seatNo, price: 1_000, holder: 'u0', created_at: now },
    ]);
  const calls = {
    usher_ticket_count: () => `usher_ticket_count('u0', 's', ${now})`,
    usher_tickets: () => `usher_tickets('u0', 's', ${now})`,
    usher_live_holds: () => `usher_live_holds('u0', ${now})`,
    'usher_require_active (check)': () => `usher_require_active('${token}', ${now}, NULL)`,
    'usher_require_active (extend)': () =>
      `usher_require_active('${token}', ${now}, ${now + 60_000})`,
    usher_issue_tickets: () => `usher_issue_tickets('${hold.id}', '${tickets()}'::json)`,
  };
  // A probe reads a few buffers; a scan of the live holds, seats or active tokens reads tens here (2,000
  // holds, 1,000 active tokens). The extension and the tickets write a row and its index entries too.
  for (const call of Object.values(calls)) await hits(call);
  const tokens = await Promise.all(
    Array.from({ length: USERS }, (_, i) => engine.issueToken(`u${i}`)),
  );
  token = tokens[0]!.token.token;
  const holds = await Promise.all(
    Array.from({ length: USERS * HOLDS_PER_USER }, (_, i) =>
      engine.reserve(tokens[i % USERS]!.token.token, { scheduleId: 's', seatNo: i + 1 }),
    ),
  );
  Object.assign(hold, holds[0]!);
  const read: Record<string, number> = {};
  for (const [name, call] of Object.entries(calls)) read[name] = (await hits(call)) ?? -1;
  t.log(read);
  const limits: Record<string, number> = {
    'usher_require_active (extend)': 26,
    usher_issue_tickets: 48,
  };
  // Without migration 10 (on this host): usher_ticket_count 53, usher_require_active 16 and 33; with it 6,
  // 4 and 21. usher_issue_tickets read 41 either way here (its scan of every live seat, seen in the
  // bench, is not reproduced by this test's statistics; the bound guards it).
  t.deepEqual(
    Object.entries(read).filter(([name, buffers]) => buffers < 0 || buffers > (limits[name] ?? 10)),
    [],
  );
});
