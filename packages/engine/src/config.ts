import { EngineError } from './errors.js';

/** Tunables of the engine. Every value is an integer within {@link configBounds} (times in ms, money in minor units). */
export interface EngineConfig {
  /** How long a hold lasts. SPEC default: 5 minutes. */
  readonly holdTtlMs: number;
  /** Period of the safety sweep that expires overdue holds. */
  readonly holdSweepMs: number;
  /** Period of the admission scheduler. */
  readonly queueTickMs: number;
  /** Tokens admitted per tick at most. */
  readonly queueAdmitPerTick: number;
  /** Active tokens at most. */
  readonly queueMaxActive: number;
  /** Lifetime of an active token (extended to cover the user's holds). */
  readonly tokenActiveTtlMs: number;
  /** A waiting token not polled for this long is abandoned. */
  readonly queueWaitingTtlMs: number;
  /** Concurrent holds per user (a hold of several seats is one). */
  readonly maxHoldsPerUser: number;
  /** Seats one reservation may hold (SPEC §10). */
  readonly maxSeatsPerOrder: number;
  /** A user's held plus paid seats of one schedule at most (SPEC §10). */
  readonly maxTicketsPerUser: number;
  /** How much later one extension moves a hold's deadline. */
  readonly holdExtensionMs: number;
  /** How many times one hold may be extended (0: never). */
  readonly holdExtensions: number;
  /** Largest single charge. */
  readonly maxChargeAmount: number;
  /** Largest balance a wallet may reach. */
  readonly maxBalance: number;
  /** How long idempotency keys (and the tokens that used them) are kept. At least 24 h. */
  readonly idempotencyTtlMs: number;
  /** How long expired and cancelled reservations stay readable before they are forgotten. */
  readonly reservationRetentionMs: number;
  /**
   * A ticket's holder may refund it until this long before its schedule's
   * `startsAt` (then `REFUND_CLOSED`; an operator may refund any time). SPEC §11.
   */
  readonly refundCutoffMs: number;
}

export const defaultConfig: EngineConfig = Object.freeze({
  holdTtlMs: 300_000,
  holdSweepMs: 10_000,
  queueTickMs: 1_000,
  queueAdmitPerTick: 100,
  queueMaxActive: 1_000,
  tokenActiveTtlMs: 600_000,
  queueWaitingTtlMs: 300_000,
  maxHoldsPerUser: 4,
  maxSeatsPerOrder: 4,
  maxTicketsPerUser: 4,
  holdExtensionMs: 120_000,
  holdExtensions: 1,
  maxChargeAmount: 10_000_000,
  maxBalance: 1_000_000_000_000,
  idempotencyTtlMs: 86_400_000,
  reservationRetentionMs: 86_400_000,
  refundCutoffMs: 86_400_000,
});

const DAY_MS = 86_400_000;

/** The inclusive range of one option. */
export interface ConfigBound {
  readonly min: number;
  readonly max: number;
}

/**
 * The range every option must lie in, checked at start. Durations and periods
 * stay within a day, far below the longest timer (`MAX_TIMER_MS`, ~24.8 days)
 * and the end of `Date`; how long records are kept stays within 30 days (keys
 * at least 24 h); counts stay within what one process holds; money stays where
 * a balance plus a charge is still a safe integer. The server derives its
 * environment's limits from these.
 */
export const configBounds: { readonly [K in keyof EngineConfig]: ConfigBound } = Object.freeze({
  holdTtlMs: { min: 1, max: DAY_MS },
  holdSweepMs: { min: 1, max: DAY_MS },
  queueTickMs: { min: 1, max: DAY_MS },
  queueAdmitPerTick: { min: 1, max: 1_000_000 },
  queueMaxActive: { min: 1, max: 5_000_000 },
  tokenActiveTtlMs: { min: 1, max: DAY_MS },
  queueWaitingTtlMs: { min: 1, max: DAY_MS },
  maxHoldsPerUser: { min: 1, max: 100 },
  maxSeatsPerOrder: { min: 1, max: 100 },
  maxTicketsPerUser: { min: 1, max: 10_000 },
  holdExtensionMs: { min: 1, max: DAY_MS },
  holdExtensions: { min: 0, max: 100 },
  maxChargeAmount: { min: 1, max: 1_000_000_000_000_000 },
  maxBalance: { min: 1, max: 8_000_000_000_000_000 },
  idempotencyTtlMs: { min: DAY_MS, max: 30 * DAY_MS },
  reservationRetentionMs: { min: 1, max: 30 * DAY_MS },
  refundCutoffMs: { min: 0, max: 366 * DAY_MS },
});

/** Fills in defaults and rejects anything that is not an integer within {@link configBounds}, naming the option. */
export function resolveConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  const config: EngineConfig = { ...defaultConfig, ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (!Object.hasOwn(configBounds, key))
      throw new EngineError('VALIDATION_FAILED', `unknown config option "${key}"`);
    const bound = configBounds[key as keyof EngineConfig];
    if (!Number.isSafeInteger(value) || value < bound.min || value > bound.max) {
      throw new EngineError(
        'VALIDATION_FAILED',
        `config ${key} must be an integer from ${bound.min} to ${bound.max}, got ${String(value)}`,
      );
    }
  }
  return Object.freeze(config);
}
