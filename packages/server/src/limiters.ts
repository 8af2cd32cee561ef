import { ADMIN_GUESSES_PER_MINUTE, type TokenLimiter } from '@usher/koa';
import { migrate, RATE_LIMITS_TABLE } from '@usher/postgres';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { ServerConfig } from './config.js';

/** The table rate-limiter-flexible keeps its counters in (created by `@usher/postgres`'s migrations; expired rows are cleared by the library). */
export const LIMITS_TABLE = RATE_LIMITS_TABLE;

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
  await migrated(store.pool);
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

const migrations = new WeakMap<pg.Pool, Promise<unknown>>();

/**
 * The counters' table is the schema's (`@usher/postgres`'s migrations create
 * it): a pool's database is migrated once, under the migrations' own lock,
 * as an engine starting on it would (a no-op once it is).
 */
function migrated(pool: pg.Pool): Promise<unknown> {
  let done = migrations.get(pool);
  if (!done) {
    done = migrate(pool);
    done.catch(() => migrations.delete(pool));
    migrations.set(pool, done);
  }
  return done;
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
