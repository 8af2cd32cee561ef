/**
 * Presale codes (SPEC §12): one-use codes an operator creates for a room. A
 * join with an unused code of the room goes to the head of its line. Codes
 * are kept only as their SHA-256 (an engine's store never holds one that
 * works), and spent at most once: the spend is part of the join's changes.
 * Pure but for the randomness, which comes in as a function.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EngineError } from '../errors.js';
import type { Decision } from './changes.js';

/** Most codes one request creates. */
export const MAX_CODES_PER_REQUEST = 1000;
/** Longest text taken as a code (ours are 24 characters); longer is `VALIDATION_FAILED`. */
export const MAX_CODE_LENGTH = 100;

/** A fresh code: 120 bits from the operating system's cryptographic source, 24 characters of base64url after `P-`. */
export function newPresaleCode(): string {
  return `P-${randomBytes(15).toString('base64url')}`;
}

/** What a store keeps of a code: its SHA-256, hex. */
export function hashCode(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}

/** `count` for `POST /admin/rooms/:roomId/codes`: an integer in `1..MAX_CODES_PER_REQUEST`. */
export function requireCodeCount(count: unknown): number {
  if (
    typeof count !== 'number' ||
    !Number.isSafeInteger(count) ||
    count < 1 ||
    count > MAX_CODES_PER_REQUEST
  )
    throw new EngineError(
      'VALIDATION_FAILED',
      `count must be an integer from 1 to ${MAX_CODES_PER_REQUEST}`,
    );
  return count;
}

/** A code argument of a join: absent (`undefined`), or a string of 1..{@link MAX_CODE_LENGTH} characters. */
export function requireCodeArg(code: unknown): string | undefined {
  if (code === undefined) return undefined;
  if (typeof code !== 'string' || code.length === 0 || code.length > MAX_CODE_LENGTH)
    throw new EngineError(
      'VALIDATION_FAILED',
      `code must be a string of 1 to ${MAX_CODE_LENGTH} characters`,
    );
  return code;
}

/** A code as an engine found it for a join: its hash, and whether it is a code of the room, never spent. */
export interface CodeFacts {
  readonly hash: string;
  readonly usable: boolean;
}

/** `CODE_INVALID`: unknown, of another room, or spent; all answered alike. */
export const codeInvalid = (): EngineError =>
  new EngineError('CODE_INVALID', 'the presale code is unknown or already used');

/**
 * Creating `count` codes for `room` (which the engine found): fresh codes
 * from `newCode`, stored as their hashes. Answers the codes themselves, which
 * only this answer ever shows.
 */
export function decideCreateCodes(
  room: string,
  count: unknown,
  newCode: () => string,
): Decision<{ readonly codes: readonly string[] }> {
  const n = requireCodeCount(count);
  const codes = Array.from({ length: n }, newCode);
  return {
    changes: [{ type: 'codesCreated', room, hashes: codes.map(hashCode) }],
    answer: { codes },
  };
}
