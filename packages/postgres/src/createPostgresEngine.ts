import { systemClock, type Clock, type EngineConfig } from '@usher/engine';
import { resolveConfig } from '@usher/engine/rules';
import pg from 'pg';
import { isUnavailable, migrate, unavailable } from './database.js';
import { PostgresEngine } from './PostgresEngine.js';

export interface PostgresEngineOptions {
  /** `postgres://…`; the engine creates (and at close ends) its own pool. Give this or `pool`. */
  readonly connectionString?: string;
  /** A pool of yours; the engine uses it (and holds two of its clients: LISTEN and, when keeper, the keeper's session) and leaves it open at close. */
  readonly pool?: pg.Pool;
  /**
   * Size of the pool the engine creates (at least 6). Default 24: about 32
   * connections per machine is what PostgreSQL serves best. Four stay out of
   * commands' reach (LISTEN, the keeper's session, catch-ups, refreshes);
   * commands beyond the rest wait in order inside the engine.
   */
  readonly poolSize?: number;
  /** Where time comes from. Default: the wall clock. Tests pass XState's `SimulatedClock`. */
  readonly clock?: Clock;
  /** Tunables; see `EngineConfig` for defaults. Every instance on one database should use the same. */
  readonly config?: Partial<EngineConfig>;
  /** `application_name` of its connections (seen in `pg_stat_activity`), e.g. `usher-gateway-<pid>`. Default `usher`. */
  readonly applicationName?: string;
  /** Whether this instance competes to be the keeper (ticks, expiry, sweep on its timers). Default true. */
  readonly keeper?: boolean;
}

/**
 * Opens the usher engine over PostgreSQL: applies the schema's migrations
 * (safe when many instances start at once), loads the waiting line, listens
 * for the keeper's steps and, unless `keeper: false`, competes to be the
 * keeper. Any number of instances may run over one database.
 *
 * @example
 * ```ts
 * import { createPostgresEngine } from '@usher/postgres';
 *
 * const engine = await createPostgresEngine({ connectionString: process.env.DATABASE_URL });
 * const { token } = await engine.issueToken('ann');
 * // … the same API as the embedded engine (UsherEngine) …
 * await engine.close();
 * ```
 */
export async function createPostgresEngine(
  options: PostgresEngineOptions,
): Promise<PostgresEngine> {
  const config = resolveConfig(options.config);
  const clock = options.clock ?? systemClock;
  if (!options.pool && !options.connectionString)
    throw new TypeError('createPostgresEngine needs a connectionString or a pool');
  const ownsPool = !options.pool;
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      application_name: options.applicationName ?? 'usher',
      max: poolSizeOf(options),
      // While PostgreSQL is unreachable a command waits at most this long for a connection, then answers UNAVAILABLE.
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    });
  // An idle connection that dies (PostgreSQL restarted) is dropped by the pool; the next command opens a new one.
  pool.on('error', () => undefined);
  // Commands use at most this many connections at once; the rest stay for LISTEN, the keeper, catch-ups and refreshes.
  const poolMax = options.pool
    ? ((options.pool as unknown as { options?: { max?: number } }).options?.max ?? 10)
    : poolSizeOf(options);
  const engine = new PostgresEngine({
    pool,
    ownsPool,
    clock,
    config,
    keeper: options.keeper ?? true,
    commandSlots: poolMax - 4,
  });
  try {
    await migrate(pool);
    await engine.start();
  } catch (error) {
    await engine.close().catch(() => undefined);
    throw isUnavailable(error) ? unavailable(error) : error;
  }
  return engine;
}

function poolSizeOf(options: PostgresEngineOptions): number {
  return Math.max(6, options.poolSize ?? 24);
}
