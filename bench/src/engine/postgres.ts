import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres } from '@usher/testkit';
import pg from 'pg';
import { processTreeCpuSeconds } from '../http/cpu.js';

/** A database for one bench process, and how to get rid of it. */
export interface BenchDatabase {
  readonly connectionString: string;
  /** The server's data directory when it is our own (for {@link postgresCpuSeconds}). */
  readonly dataDir?: string;
  remove(): Promise<void>;
}

/**
 * CPU seconds (user + system) PostgreSQL has used so far: the postmaster,
 * its live children (backends, WAL writer, …) and the children it has reaped.
 * With {@link cpuSeconds} of this process, the CPU a command costs on this
 * machine whatever else runs on it: 2 cores over that is the ceiling of a
 * quiet machine. `undefined` for a server that is not ours.
 */
export function postgresCpuSeconds(dataDir: string | undefined): number | undefined {
  if (!dataDir) return undefined;
  try {
    return processTreeCpuSeconds(
      Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim()),
    );
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) this process has used so far. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * A fresh database: with `DATABASE_URL`, a new database on that server
 * (dropped after); otherwise a PostgreSQL of its own on this machine, started
 * by the tests' harness, `@usher/testkit` (Debian's binaries, `fsync` and
 * `synchronous_commit` on, loopback, a free port, removed after).
 */
export async function openDatabase(): Promise<BenchDatabase> {
  const url = process.env['DATABASE_URL'];
  if (url) {
    const name = `usher_bench_${randomBytes(6).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE ${name}`);
    const target = new URL(url);
    target.pathname = `/${name}`;
    return {
      connectionString: target.toString(),
      remove: () => adminQuery(url, `DROP DATABASE ${name} WITH (FORCE)`),
    };
  }
  // The harness's defaults plus room for the bench's pool; synchronous_commit stays on (the default).
  const statements =
    process.env['BENCH_PG_STATEMENTS'] === '1'
      ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' }
      : {};
  return startPostgres({ settings: { shared_buffers: '256MB', ...statements } });
}

/**
 * With `BENCH_PG_STATEMENTS=1` (own server only): PostgreSQL's own account of
 * where its time went, the statements by total execution time, on stderr.
 */
export async function reportStatements(connectionString: string): Promise<void> {
  if (process.env['BENCH_PG_STATEMENTS'] !== '1') return;
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const { rows } = await client.query(
      `SELECT calls, round(total_exec_time) AS total_ms, shared_blks_hit AS hits, round(mean_exec_time::numeric, 3) AS mean_ms, toplevel, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
         FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25`,
    );
    for (const row of rows) process.stderr.write(`${JSON.stringify(row)}\n`);
  } finally {
    await client.end();
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
