import { ADMIN_GUESSES_PER_MINUTE, type TokenLimiter } from '@usher/koa';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { ServerConfig } from './config.js';

/** The table rate-limiter-flexible keeps its counters in (created if missing; expired rows are cleared by the library). */
export const LIMITS_TABLE = 'usher_rate_limits';

export interface LimiterStore {
  /** PostgreSQL mode: counters live in the database, shared by every gateway. Unset: this process's memory. */
  readonly pool?: pg.Pool | undefined;
  /** Told when a PostgreSQL counter fails and its memory insurance counts instead (at most every 10 s). */
  readonly logger?: Logger | undefined;
}

/**
 * The limit on joining (`TOKEN_RATE_PER_MINUTE`, `TOKEN_RATE_BURST`), per
 * client address: at most `burstPerSecond` requests in any one second and
 * `perMinute` in a minute (fixed windows, rate-limiter-flexible's counting).
 * The burst limiter is asked first, so a flood refused by it spends nothing of
 * the minute. In memory by default; with `pool`, in PostgreSQL, so that the
 * limit holds across gateways, each counter insured by a memory one: if the
 * database cannot count, the limit still holds per gateway (and a warning
 * says so). `undefined` when `perMinute` is 0 (no limit).
 *
 * @example
 * ```ts
 * const tokenLimiter = await createTokenLimiter(config, { pool, logger });
 * createApp(engine, { tokenLimiter });
 * ```
 */
export async function createTokenLimiter(
  config: Pick<ServerConfig, 'tokenRate'>,
  store: LimiterStore = {},
): Promise<TokenLimiter | undefined> {
  const { perMinute, burstPerSecond } = config.tokenRate;
  if (perMinute === 0) return undefined;
  return Promise.all([
    limiter({ keyPrefix: 'tokens_second', points: burstPerSecond, duration: 1 }, store),
    limiter({ keyPrefix: 'tokens_minute', points: perMinute, duration: 60 }, store),
  ]);
}

/**
 * Wrong admin tokens per client address: {@link ADMIN_GUESSES_PER_MINUTE} a
 * minute, then 429 (see `AppOptions.adminGuessLimiter`); in PostgreSQL mode
 * counted in the database, so that more gateways give a guesser no more tries.
 */
export function createAdminGuessLimiter(store: LimiterStore = {}): Promise<RateLimiterAbstract> {
  return limiter(
    { keyPrefix: 'admin_guesses', points: ADMIN_GUESSES_PER_MINUTE, duration: 60 },
    store,
  );
}

async function limiter(
  options: { keyPrefix: string; points: number; duration: number },
  store: LimiterStore,
): Promise<RateLimiterAbstract> {
  if (store.pool === undefined) return new RateLimiterMemory(options);
  await createLimitsTable(store.pool);
  const insuranceLimiter = new Insurance(options, warnEvery10s(store.logger, options.keyPrefix));
  return new RateLimiterPostgres({
    ...options,
    storeClient: store.pool,
    storeType: 'pool',
    tableName: LIMITS_TABLE,
    tableCreated: true,
    insuranceLimiter,
  });
}

/**
 * Creates the counters' table unless it exists: rate-limiter-flexible's own
 * table, made here rather than by the library because `CREATE TABLE IF NOT
 * EXISTS` is not safe against itself (at the same moment one creator wins and
 * another fails with "type … already exists", which the library does not
 * expect): every creator takes a transaction's advisory lock first, so they
 * create it one after the other.
 */
async function createLimitsTable(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LIMITS_TABLE]);
    // rate-limiter-flexible's schema (RateLimiterPostgres#_getCreateTableStmt, version 11).
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${LIMITS_TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** A memory limiter that counts when PostgreSQL cannot, and says so. */
class Insurance extends RateLimiterMemory {
  readonly #used: () => void;

  constructor(options: ConstructorParameters<typeof RateLimiterMemory>[0], used: () => void) {
    super(options);
    this.#used = used;
  }

  override consume(
    ...args: Parameters<RateLimiterMemory['consume']>
  ): ReturnType<RateLimiterMemory['consume']> {
    this.#used();
    return super.consume(...args);
  }
}

function warnEvery10s(logger: Logger | undefined, keyPrefix: string): () => void {
  let last: number | undefined;
  return () => {
    const now = performance.now();
    if (last !== undefined && now - last < 10_000) return;
    last = now;
    logger?.warn(
      { limiter: keyPrefix },
      `PostgreSQL cannot count ${keyPrefix} now: this gateway counts in its own memory until it can (the limit holds per gateway)`,
    );
  };
}
