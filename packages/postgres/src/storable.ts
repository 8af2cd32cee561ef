import { EngineError } from '@usher/engine';

/**
 * Text PostgreSQL cannot hold as it is, checked before it reaches SQL: a NUL
 * (a `text` or `jsonb` value cannot contain one: the whole statement fails)
 * or an unpaired surrogate (UTF-8 cannot spell one: `pg` would send U+FFFD,
 * and `"\ud800"` and `"\ufffd"` would be one id).
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether PostgreSQL stores `text` as it is. */
export function isStorable(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * A value to look a row up by: text no row can hold becomes `null`, which
 * finds nothing, so such an id is unknown, as on the embedded engine, and
 * fails no other lookup read in the same statement.
 */
export function lookupKey<T>(value: T): T | null {
  return typeof value === 'string' && !isStorable(value) ? null : value;
}

/**
 * Refuses (`VALIDATION_FAILED`) a decision's changes if any text in them
 * cannot be stored (an idempotency key or a catalog entry given that way),
 * before anything is written: the rules accept any such string, and only
 * PostgreSQL cannot keep some. A user id never gets here with one: the user
 * id rule (`userIdProblem` of `@usher/engine`) refuses a NUL and a lone
 * surrogate first, on both engines alike, in its own words.
 */
export function requireStorable(value: unknown, field = 'a value'): void {
  if (typeof value === 'string') {
    if (!isStorable(value))
      throw new EngineError(
        'VALIDATION_FAILED',
        `${field} must not contain a NUL or an unpaired surrogate character`,
      );
  } else if (Array.isArray(value)) {
    for (const item of value) requireStorable(item, field);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) requireStorable(item, key);
  }
}
