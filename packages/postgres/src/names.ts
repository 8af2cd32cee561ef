/**
 * The names the schema and the engine share, defined once (as pg-boss's
 * `plans.ts` does): the advisory lock keys, the SQLSTATEs the schema raises,
 * and the tables other packages reach. The migrations build their lock
 * functions from these; the engine takes locks through those functions, and
 * names a key itself only where no schema exists yet (the migrations' lock).
 */

/** Advisory lock keys: `(usher, key)` for the engine's own locks, `(user, hashtext(userId))` per user. */
export const LOCKS = {
  usher: 29556,
  user: 29557,
  /** `(waitlist, hashtext(scheduleId))`: a join (exclusive) against the frees that hand seats out (shared), migration 9. */
  waitlist: 29558,
  /** Held while migrations run (transaction-level). */
  migrations: 1,
  /** Keeper steps, room updates and issues at once (exclusive), arrivals (shared): transaction-level. */
  steps: 2,
  /** Held by the keeper's own session for as long as it is the keeper (session-level). */
  keeper: 3,
} as const;

/** SQLSTATEs the schema's functions raise. */
export const SQLSTATE = {
  /** A condition a decision assumed no longer holds (another engine won a race): decide again. */
  conflict: 'UR409',
  /** A statement did not do exactly what was decided (rows affected ≠ rows decided): a fault, rolled back. */
  notAsDecided: 'UR500',
} as const;

/** The table `@usher/server`'s rate limiter (rate-limiter-flexible) counts in, created by the migrations. */
export const RATE_LIMITS_TABLE = 'usher_rate_limits';
