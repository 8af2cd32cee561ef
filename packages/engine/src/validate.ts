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

/**
 * Code points no user id may hold: controls (C0, C1), format characters
 * (bidi controls such as U+202E, zero-width characters, the BOM, the soft
 * hyphen), line and paragraph separators, noncharacters (U+FFFF, U+FDD0…) and
 * lone surrogates. Each either cannot be seen, reorders what is shown, breaks
 * a log line, or cannot be stored as UTF-8 (PostgreSQL would make every lone
 * surrogate one U+FFFD: three ids, one user).
 */
const UNSEEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Noncharacter_Code_Point}\p{Cs}]/u;
const EDGE_SPACE = /^\s|\s$/u;

/**
 * What is wrong with `value` as a user id, or `undefined` when nothing is:
 * the one rule for every source of a user id (a request body or path, a
 * sign-in's claim, a direct engine call). A user id is 1 to
 * {@link MAX_ID_LENGTH} UTF-16 code units, in Unicode normalization form C
 * (NFC), with no code point of {@link UNSEEN} and no space at either end.
 *
 * A user id that is not NFC is refused, not normalized: a normalized id would
 * make two ids an identity provider keeps apart (`é` composed and decomposed)
 * one user, and answer with an id the client never sent. Refused, the client
 * normalizes (`id.normalize('NFC')`) and one person stays one user.
 *
 * @example
 * ```ts
 * userIdProblem('ann'); // undefined
 * userIdProblem('ann\u202e'); // 'must not contain U+202E (…)'
 * ```
 */
export function userIdProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH)
    return `must be a string of 1 to ${MAX_ID_LENGTH} characters`;
  const unseen = UNSEEN.exec(value);
  if (unseen !== null)
    return `must not contain ${codePoint(unseen[0])} (no control, format, separator or noncharacter code points, no lone surrogates)`;
  if (EDGE_SPACE.test(value)) return 'must not begin or end with a space';
  if (value.normalize('NFC') !== value)
    return "must be in Unicode normalization form C (NFC): send id.normalize('NFC')";
  return undefined;
}

/** Throws `VALIDATION_FAILED` unless `value` is a user id (see {@link userIdProblem}). */
export function requireUserId(value: unknown, field = 'userId'): string {
  const problem = userIdProblem(value);
  if (problem !== undefined) throw new EngineError('VALIDATION_FAILED', `${field} ${problem}`);
  return value as string;
}

/** `U+202E`. */
function codePoint(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
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
