import { EngineError } from '@usher/engine';
import type pg from 'pg';
import { migrations } from './migrations/index.js';
import { LOCKS, SQLSTATE } from './names.js';

/** A pool or a client: what a query runs on. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/**
 * Applies the migrations that are not applied yet, in one transaction that
 * holds an advisory lock: engines starting at once apply each migration once
 * (the second waits, then finds them applied). Returns the versions applied.
 */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCKS.usher, LOCKS.migrations]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS usher_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const recorded = (
      await client.query<{ version: number; name: string }>(
        'SELECT version, name FROM usher_migrations ORDER BY version',
      )
    ).rows;
    const known = new Map(migrations.map((migration) => [migration.version, migration.name]));
    const foreign = recorded.filter((row) => known.get(row.version) !== row.name);
    if (foreign.length > 0)
      throw new Error(
        `this database's schema was built by migrations this version does not have (${foreign
          .map((row) => `${row.version} ${row.name}`)
          .join(', ')}): the unreleased migrations 1–9 were squashed into one baseline; ` +
          'build the database anew (drop it, or use a new one)',
      );
    const done = new Set(recorded.map((row) => row.version));
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO usher_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    client.release();
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}

/** Whether `error` is an apply (or PostgreSQL) saying that another transaction won: decide again. */
export function isConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // 40001 serialization failure and 40P01 deadlock: the transaction did nothing; trying again is safe.
  return code === SQLSTATE.conflict || code === '40001' || code === '40P01';
}

const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // admin_shutdown, crash_shutdown, cannot_connect_now (starting up, shutting down, in recovery)
  '57P01',
  '57P02',
  '57P03',
  // too_many_connections
  '53300',
  // read_only_sql_transaction: a standby, e.g. during a failover
  '25006',
]);
const unreachableMessages =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|not queryable|ECONNREFUSED|ECONNRESET/i;

/** Whether `error` means PostgreSQL cannot be reached or cannot take the command now (rather than a refusal or a bug). */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || unreachableCodes.has(code)))
    return true;
  if (error instanceof AggregateError && error.errors.some(isUnavailable)) return true;
  return unreachableMessages.test(error.message);
}

/** The refusal for a database that cannot be reached: a 503 with `Retry-After` over HTTP. */
export function unavailable(cause: unknown): EngineError {
  return new EngineError('UNAVAILABLE', 'the database cannot be reached; try again shortly', {
    cause,
  });
}

const statementNames = new Map<string, string>();

/**
 * Runs `text` as a named prepared statement: PostgreSQL parses and plans it
 * once per connection instead of once per command (the views are a few
 * subqueries each: planning them every time cost more than running them).
 */
export function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  let name = statementNames.get(text);
  if (name === undefined) statementNames.set(text, (name = `usher_${statementNames.size + 1}`));
  return (db as pg.ClientBase).query<R>({ name, text, values });
}

/**
 * Runs `work` on a client of its own from `pool`; a client whose connection
 * failed is not given back for reuse.
 */
export async function onClient<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    const result = await work(client);
    client.release();
    return result;
  } catch (error) {
    client.release(isUnavailable(error) ? (error as Error) : undefined);
    throw error;
  }
}

/** Runs `work` in a transaction on `client`: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(client: Queryable, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
