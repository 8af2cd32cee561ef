/**
 * What one command costs PostgreSQL, in figures a busy machine cannot move:
 * per reserve (a one-seat hold) and per pay, the calls and self time of every
 * function (`track_functions = 'all'`, `pg_stat_user_functions`), the
 * statements with their calls, buffer hits, rows and WAL
 * (`pg_stat_statements`, nested statements included), and the CPU of
 * PostgreSQL's processes (which a busy machine does move a little).
 *
 * `node pgCost.js [holds=2000] [inFlight=1]`
 *
 * The workload is `throughput.js postgres`'s: 4 holds per user, each on its
 * own seat of one date, then a charge per user, then a payment per hold. With
 * one command in flight (the default) every batch is one command and the
 * counts are the same from run to run; with more, commands share batches.
 * Each phase runs on an engine of its own, closed before its figures are read
 * (a backend flushes its function counts when it exits). With
 * `PG_COST_EXPLAIN=1`, one more hold and payment run with `auto_explain`
 * (ANALYZE, BUFFERS, nested statements) and their plans go to stderr; with
 * `PG_COST_SAMPLE=0.02`, that share of every phase's statements is explained
 * into the server's log, which `PG_COST_LOG=<file>` keeps.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { createPostgresEngine } from '@usher/postgres';
import type { UsherEngine } from '@usher/engine';
import { startPostgres } from '@usher/testkit';
import pg from 'pg';
import { cpuSeconds, postgresCpuSeconds } from './postgres.js';

const [countArg = '2000', inFlightArg = '1'] = process.argv.slice(2);
const count = Number(countArg);
const inFlight = Number(inFlightArg);
const HOLDS_PER_USER = 4;
const users = Math.ceil(count / HOLDS_PER_USER);

const server = await startPostgres({
  settings: {
    shared_buffers: '256MB',
    shared_preload_libraries: 'pg_stat_statements',
    'pg_stat_statements.track': 'all',
    'pg_stat_statements.max': '10000',
    track_functions: 'all',
  },
});
const admin = new pg.Client({ connectionString: server.connectionString });
const config = {
  queueMaxActive: users + 10,
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  maxHoldsPerUser: HOLDS_PER_USER,
  maxTicketsPerUser: 10_000,
};

let adminPid = 0;

const open = () => createPostgresEngine({ connectionString: server.connectionString, config });

/** Closes `engine` and waits until its backends are gone (their counts flushed). */
async function close(engine: UsherEngine): Promise<void> {
  await engine.close();
  for (let i = 0; i < 200; i++) {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    if (rows[0]!.n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await admin.query('SELECT pg_stat_clear_snapshot()');
}

/** CPU ticks (1/100 s) of PostgreSQL's live processes by pid, with their titles. */
function processTicks(): Map<number, { title: string; ticks: number }> {
  const postmaster = Number(
    readFileSync(`${server.dataDir}/postmaster.pid`, 'utf8').split('\n')[0],
  );
  const found = new Map<number, { title: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[1] !== String(postmaster)) continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      found.set(Number(entry), { title, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * CPU seconds the engine's backends used between two readings, and the rest
 * of PostgreSQL's (background processes, autovacuum workers) as the
 * whole tree's minus those.
 */
function backendSeconds(
  before: ReturnType<typeof processTicks>,
  after: ReturnType<typeof processTicks>,
  adminPid: number,
): number {
  let ticks = 0;
  for (const [pid, { title, ticks: now }] of after) {
    if (pid === adminPid || !/^postgres: \S+ usher /.test(title)) continue;
    ticks += now - (before.get(pid)?.ticks ?? 0);
  }
  return ticks / 100;
}

async function reset(): Promise<void> {
  await admin.query('SELECT pg_stat_reset(), pg_stat_statements_reset()');
}

async function inParallel<T>(n: number, run: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await run(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
  return results;
}

const per = (value: number | string, n: number, digits = 2) =>
  Math.round((Number(value) / n) * 10 ** digits) / 10 ** digits;

/** One phase on an engine of its own: its figures per command. */
async function phase<T>(
  name: string,
  n: number,
  run: (engine: UsherEngine, i: number) => Promise<T>,
): Promise<T[]> {
  const engine = await open();
  await reset();
  const cpuBefore = cpuSeconds();
  const pgBefore = postgresCpuSeconds(server.dataDir)!;
  const ticksBefore = processTicks();
  const started = performance.now();
  const results = await inParallel(n, (i) => run(engine, i));
  const seconds = (performance.now() - started) / 1000;
  const pgCpu = postgresCpuSeconds(server.dataDir)! - pgBefore;
  const backendCpu = backendSeconds(ticksBefore, processTicks(), adminPid);
  const nodeCpu = cpuSeconds() - cpuBefore;
  await close(engine);
  const functions = await admin.query(
    `SELECT funcname AS name, calls, self_time, total_time FROM pg_stat_user_functions ORDER BY calls DESC, funcname`,
  );
  const statements = await admin.query(
    `SELECT toplevel, calls, shared_blks_hit, shared_blks_read + shared_blks_dirtied AS other_blks, rows,
            wal_records, wal_bytes, total_exec_time, plans,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 150) AS query
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY toplevel DESC, shared_blks_hit DESC`,
  );
  const vacuums = await admin.query<{ autovacuums: number; autoanalyzes: number }>(
    `SELECT sum(autovacuum_count)::int AS autovacuums, sum(autoanalyze_count)::int AS autoanalyzes FROM pg_stat_user_tables`,
  );
  const top = statements.rows.filter((row) => row.toplevel);
  const sum = (rows: typeof top, key: string) => rows.reduce((s, row) => s + Number(row[key]), 0);
  const report = {
    phase: name,
    commands: n,
    inFlight,
    perCommand: {
      topLevelStatements: per(sum(top, 'calls'), n),
      bufferHits: per(sum(top, 'shared_blks_hit'), n, 1),
      walRecords: per(sum(top, 'wal_records'), n, 1),
      walBytes: per(sum(top, 'wal_bytes'), n, 0),
      functionCalls: per(sum(functions.rows, 'calls'), n, 1),
      execUs: per(sum(top, 'total_exec_time') * 1000, n, 0),
      cpuUs: {
        node: per(nodeCpu * 1e6, n, 0),
        postgres: per(pgCpu * 1e6, n, 0),
        postgresBackends: per(backendCpu * 1e6, n, 0),
        postgresOther: per((pgCpu - backendCpu) * 1e6, n, 0),
      },
    },
    commandsPerSecond: Math.round(n / seconds),
    autovacuum: vacuums.rows[0],
    functions: functions.rows.map((row) => ({
      name: row.name,
      calls: per(row.calls, n),
      selfUs: per(row.self_time * 1000, n, 1),
      totalUs: per(row.total_time * 1000, n, 1),
    })),
    statements: statements.rows
      .filter((row) => Number(row.calls) >= n / 100)
      .map((row) => ({
        top: row.toplevel,
        calls: per(row.calls, n),
        hits: per(row.shared_blks_hit, n, 1),
        rows: per(row.rows, n),
        wal: per(row.wal_records, n, 1),
        us: per(row.total_exec_time * 1000, n, 0),
        query: row.query,
      })),
  };
  process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  return results;
}

/** Plans of the engine's sessions opened from now on (and of their nested statements) to the server's log. */
async function autoExplain(settings: Record<string, string>): Promise<void> {
  const all = {
    session_preload_libraries: 'auto_explain',
    'auto_explain.log_min_duration': '0',
    'auto_explain.log_analyze': 'on',
    'auto_explain.log_buffers': 'on',
    'auto_explain.log_nested_statements': 'on',
    ...settings,
  };
  for (const [key, value] of Object.entries(all))
    await admin.query(`ALTER DATABASE usher SET ${key} = '${value}'`);
}

try {
  await admin.connect();
  adminPid = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  await admin.query('CREATE EXTENSION pg_stat_statements');
  const setup = await open();
  await setup.loadCatalog({
    concerts: [{ id: 'c', title: 'Bench' }],
    schedules: [
      {
        id: 's',
        concertId: 'c',
        startsAt: '2027-07-01T10:00:00Z',
        totalSeats: count + 1,
        price: 1_000,
      },
    ],
  });
  await close(setup);
  const sample = process.env['PG_COST_SAMPLE'];
  if (sample) await autoExplain({ 'auto_explain.sample_rate': sample });
  const tokens = (await phase('issue', users, (engine, i) => engine.issueToken(`user-${i}`))).map(
    (issued) => issued.token.token,
  );
  const holds = await phase('reserve', count, (engine, i) =>
    engine.reserve(tokens[i % users]!, { scheduleId: 's', seatNo: i + 1 }),
  );
  await phase('charge', users, (engine, i) =>
    engine.charge(tokens[i]!, { userId: `user-${i}`, amount: 1_000 * HOLDS_PER_USER }),
  );
  await phase('pay', count, (engine, i) =>
    engine.pay(tokens[i % users]!, { reservationId: holds[i]!.id }),
  );

  if (process.env['PG_COST_EXPLAIN'] === '1') {
    await autoExplain({ 'auto_explain.sample_rate': '1' });
    const logFrom = (await readFile(server.logFile, 'utf8')).length;
    const engine = await open();
    const { token } = await engine.issueToken('user-explain');
    const marks: [string, number][] = [];
    const mark = async (name: string) =>
      marks.push([name, (await readFile(server.logFile, 'utf8')).length]);
    await mark('reserve');
    const hold = await engine.reserve(token.token, { scheduleId: 's', seatNo: count + 1 });
    await mark('charge');
    await engine.charge(token.token, { userId: 'user-explain', amount: 1_000 });
    await mark('pay');
    await engine.pay(token.token, { reservationId: hold.id });
    await mark('end');
    await close(engine);
    const log = await readFile(server.logFile, 'utf8');
    process.stderr.write(`-- log from ${logFrom}\n`);
    for (let i = 0; i + 1 < marks.length; i++)
      process.stderr.write(
        `\n======== ${marks[i]![0]} ========\n${log.slice(marks[i]![1], marks[i + 1]![1])}`,
      );
  }
} finally {
  const keepLog = process.env['PG_COST_LOG'];
  if (keepLog) await copyFile(server.logFile, keepLog).catch(() => undefined);
  await admin.end().catch(() => undefined);
  await server.remove();
}
