/**
 * In-process commands per second for issue, reserve, charge and pay, through
 * the engine's public API with its durability barrier, with each command's
 * latency (p50, p99). 1,000 commands are kept in flight (a new one starts as
 * each one is answered), as a server under load would send them.
 *
 * `node throughput.js lowdb 200000` (store: discard | memory | lowdb | lowdb-nofsync | postgres)
 *
 * `postgres` runs `createPostgresEngine` on a PostgreSQL of its own (or a new
 * database on `DATABASE_URL`), `synchronous_commit` on: a command is answered
 * once its transaction is committed.
 */
import { createEngine, type UsherEngine } from '@usher/engine';
import { createPostgresEngine } from '@usher/postgres';
import { cpuSeconds, openDatabase, postgresCpuSeconds, reportStatements } from './postgres.js';
import { openStore, type StoreKind } from './stores.js';

const [storeKind = 'memory', countArg = '200000'] = process.argv.slice(2);
const count = Number(countArg);
const HOLDS_PER_USER = 4;
const users = Math.ceil(count / HOLDS_PER_USER);
const CONCURRENCY = 1_000;

export interface Timing {
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU per command: this process, and PostgreSQL's processes when the server is ours. */
  cpuUsPerCommand: { node: number; postgres?: number };
}

let dataDir: string | undefined;

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 100) / 100;

/** Runs `run(0 … count-1)` with {@link CONCURRENCY} in flight; the answers in order, the rate and the latencies. */
async function timed<T>(
  count: number,
  run: (i: number) => Promise<T>,
): Promise<Timing & { results: T[] }> {
  const results: T[] = new Array(count);
  const latencies = new Float64Array(count);
  let next = 0;
  const cpuBefore = cpuSeconds();
  const pgBefore = postgresCpuSeconds(dataDir);
  const started = performance.now();
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const begun = performance.now();
      results[i] = await run(i);
      latencies[i] = performance.now() - begun;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, lane));
  const seconds = (performance.now() - started) / 1000;
  const pgAfter = postgresCpuSeconds(dataDir);
  const perCommand = (cpu: number) => Math.round((cpu / count) * 1e6);
  const cpuUsPerCommand = {
    node: perCommand(cpuSeconds() - cpuBefore),
    ...(pgBefore === undefined || pgAfter === undefined
      ? {}
      : { postgres: perCommand(pgAfter - pgBefore) }),
  };
  latencies.sort();
  return {
    opsPerSecond: Math.round(count / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    cpuUsPerCommand,
    results,
  };
}

const config = {
  queueMaxActive: users,
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  maxHoldsPerUser: HOLDS_PER_USER,
  maxTicketsPerUser: 10_000,
};
let engine: UsherEngine;
let cleanup: () => Promise<void> | void;
if (storeKind === 'postgres') {
  const database = await openDatabase();
  dataDir = database.dataDir;
  engine = await createPostgresEngine({
    connectionString: database.connectionString,
    config,
    ...(process.env['BENCH_PG_POOL'] ? { poolSize: Number(process.env['BENCH_PG_POOL']) } : {}),
  });
  cleanup = async () => {
    await reportStatements(database.connectionString);
    await database.remove();
  };
} else {
  const opened = openStore(storeKind as StoreKind);
  engine = await createEngine({ store: opened.store, config });
  cleanup = opened.cleanup;
}
try {
  await engine.loadCatalog({
    concerts: [{ id: 'c', title: 'Bench' }],
    schedules: [
      {
        id: 's',
        concertId: 'c',
        startsAt: '2027-07-01T10:00:00Z',
        totalSeats: count,
        price: 1_000,
      },
    ],
  });

  const issue = await timed(users, (i) => engine.issueToken(`user-${i}`));
  const tokens = issue.results.map((issued) => issued.token.token);
  const reserve = await timed(count, (i) =>
    engine.reserve(tokens[i % users]!, { scheduleId: 's', seatNo: i + 1 }),
  );
  const charge = await timed(users, (i) =>
    engine.charge(tokens[i]!, { userId: `user-${i}`, amount: 1_000 * HOLDS_PER_USER }),
  );
  const pay = await timed(count, (i) =>
    engine.pay(tokens[i % users]!, { reservationId: reserve.results[i]!.id }),
  );
  const stats = await engine.stats();
  if (stats.paidSeats !== count)
    throw new Error(`expected ${count} paid seats, got ${stats.paidSeats}`);
  await engine.close();

  const figures = ({ results: _, ...timing }: Timing & { results: unknown[] }): Timing => timing;
  process.stdout.write(
    `${JSON.stringify({
      store: storeKind,
      commands: { issue: users, reserve: count, charge: users, pay: count },
      opsPerSecond: {
        issue: issue.opsPerSecond,
        reserve: reserve.opsPerSecond,
        charge: charge.opsPerSecond,
        pay: pay.opsPerSecond,
      },
      latency: {
        issue: figures(issue),
        reserve: figures(reserve),
        charge: figures(charge),
        pay: figures(pay),
      },
    })}\n`,
  );
} finally {
  await cleanup();
}
