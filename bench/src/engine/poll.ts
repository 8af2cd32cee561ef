/**
 * Poll cost with N waiting tokens in PostgreSQL: `GET /queue/tokens/current`
 * in-process (`getToken`) for random waiting tokens, 1,000 in flight, and the
 * keeper's tick time, which must cost O(admitted), not O(queue).
 *
 * `node poll.js 1000000 [polls]`
 *
 * The waiting line is written with SQL as a keeper step leaves it (tokens with
 * a line number, one published `queue_ticks` row): issuing a million tokens
 * through the engine would time the issue path, not the poll. The engine is
 * opened after, and loads the line as any instance does at start.
 */
import { createPostgresEngine } from '@usher/postgres';
import pg from 'pg';
import { cpuSeconds, openDatabase, postgresCpuSeconds } from './postgres.js';

const waiting = Number(process.argv[2] ?? 1_000_000);
const polls = Number(process.argv[3] ?? 200_000);
const CONCURRENCY = 1_000;
const ADMIT_PER_TICK = 100;
const config = {
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  queueAdmitPerTick: ADMIT_PER_TICK,
  queueMaxActive: 5_000_000,
};

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 100) / 100;

const database = await openDatabase();
try {
  // The schema, by the engine's own migrations.
  await (
    await createPostgresEngine({
      connectionString: database.connectionString,
      config,
      keeper: false,
    })
  ).close();
  const now = Date.now();
  const seeding = performance.now();
  const client = new pg.Client({ connectionString: database.connectionString });
  await client.connect();
  await client.query(
    `INSERT INTO tokens (token, user_id, status, seq, line, issued_at, expires_at, last_seen_at)
     SELECT 'tok-' || n, 'user-' || n, 'waiting', n, n, $2, 0, $2 FROM generate_series(1, $1::bigint) AS n`,
    [waiting, now],
  );
  await client.query(`SELECT setval('token_seq', $1)`, [waiting]);
  await client.query(
    `INSERT INTO queue_ticks (no, at, real, line_end, seq_end, departed, admitted, had_waiting, waiting, active, next_abandon_at)
     VALUES (1, $1, true, $2, $2, '{}', 0, true, $2, 0, $3)`,
    [now, waiting, now + 300_000],
  );
  await client.query('VACUUM ANALYZE tokens');
  await client.end();
  const seedMs = Math.round(performance.now() - seeding);

  const opening = performance.now();
  const engine = await createPostgresEngine({
    connectionString: database.connectionString,
    config,
    keeper: false,
  });
  const openMs = Math.round(performance.now() - opening);

  const random = (i: number) => `tok-${1 + ((i * 2_654_435_761) % waiting)}`;
  // Warm up (JIT, connections, prepared statements), unmeasured.
  await Promise.all(Array.from({ length: 2_000 }, (_, i) => engine.getToken(random(i + polls))));
  const latencies = new Float64Array(polls);
  let next = 0;
  const cpuBefore = cpuSeconds();
  const pgBefore = postgresCpuSeconds(database.dataDir);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < polls) {
        const i = next++;
        const begun = performance.now();
        const view = await engine.getToken(random(i));
        if (view.status !== 'waiting' || !((view.position ?? 0) > 0))
          throw new Error(`poll ${i}: ${JSON.stringify(view)}`);
        latencies[i] = performance.now() - begun;
      }
    }),
  );
  const pollSeconds = (performance.now() - started) / 1000;
  const pgAfter = postgresCpuSeconds(database.dataDir);
  const perPoll = (cpu: number) => Math.round((cpu / polls) * 1e6);
  const cpuUsPerPoll = {
    node: perPoll(cpuSeconds() - cpuBefore),
    ...(pgBefore === undefined || pgAfter === undefined
      ? {}
      : { postgres: perPoll(pgAfter - pgBefore) }),
  };
  latencies.sort();

  // Ticks: each admits ADMIT_PER_TICK from the head of the line.
  const ticks: number[] = [];
  for (let i = 0; i < 5; i++) {
    const begun = performance.now();
    const report = await engine.tick();
    ticks.push(performance.now() - begun);
    if (report.admitted !== ADMIT_PER_TICK) throw new Error(`tick admitted ${report.admitted}`);
  }
  ticks.sort((a, b) => a - b);
  await engine.close();

  process.stdout.write(
    `${JSON.stringify({
      waiting,
      seedMs,
      openMs,
      polls,
      pollsPerSecond: Math.round(polls / pollSeconds),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      cpuUsPerPoll,
      tick: { admitted: ADMIT_PER_TICK, medianMs: round(ticks[2]!), maxMs: round(ticks[4]!) },
    })}\n`,
  );
} finally {
  await database.remove();
}
