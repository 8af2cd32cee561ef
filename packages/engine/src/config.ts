import { EngineError } from './errors.js';

/** Tunables of the engine. Every value is a positive safe integer (times in ms, money in minor units). */
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
  /** Concurrent holds per user. */
  readonly maxHoldsPerUser: number;
  /** Largest single charge. */
  readonly maxChargeAmount: number;
  /** Largest balance a wallet may reach. */
  readonly maxBalance: number;
  /** How long idempotency keys (and the tokens that used them) are kept. At least 24 h. */
  readonly idempotencyTtlMs: number;
  /** How long expired and cancelled reservations stay readable before they are forgotten. */
  readonly reservationRetentionMs: number;
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
  maxChargeAmount: 10_000_000,
  maxBalance: 1_000_000_000_000,
  idempotencyTtlMs: 86_400_000,
  reservationRetentionMs: 86_400_000,
});

/** Fills in defaults and rejects anything that is not a positive safe integer. */
export function resolveConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  const config: EngineConfig = { ...defaultConfig, ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (!(key in defaultConfig)) throw new EngineError('VALIDATION_FAILED', `unknown config option "${key}"`);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new EngineError('VALIDATION_FAILED', `config ${key} must be a positive safe integer, got ${String(value)}`);
    }
  }
  if (config.idempotencyTtlMs < 86_400_000) {
    throw new EngineError('VALIDATION_FAILED', 'config idempotencyTtlMs must keep keys at least 24 h');
  }
  return Object.freeze(config);
}
