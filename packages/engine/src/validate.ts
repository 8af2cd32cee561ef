import { EngineError } from './errors.js';

/** Longest id, user id or idempotency key the engine accepts. */
export const MAX_ID_LENGTH = 128;

/** Throws `VALIDATION_FAILED` unless `value` is a non-empty string of at most {@link MAX_ID_LENGTH} characters. */
export function requireId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new EngineError(
      'VALIDATION_FAILED',
      `${field} must be a string of 1 to ${MAX_ID_LENGTH} characters`,
    );
  }
  return value;
}

/** Throws `VALIDATION_FAILED` unless `value` is a safe integer in `[min, max]`. */
export function requireInteger(
  value: unknown,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new EngineError('VALIDATION_FAILED', `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}
