/**
 * Spent proofs (SPEC §9, proof of work): a solution is good once, and is
 * remembered as spent until its challenge expires; after that the challenge
 * itself is refused as expired, and the record is forgotten. Pure.
 */
import { requireId, requireInteger } from '../validate.js';

export interface SpendCommand {
  /** What identifies the solution (its challenge's signature). */
  readonly id: string;
  /** When its challenge expires, epoch ms: it is remembered until then. */
  readonly expiresAt: number;
}

/** Validates a spend before anything is looked up. */
export function checkSpend(id: unknown, expiresAt: unknown): SpendCommand {
  return {
    id: requireId(id, 'challenge id'),
    expiresAt: requireInteger(expiresAt, 'expiresAt', 0),
  };
}

/** Whether a spent record may be forgotten at `now`: its challenge has expired. */
export function isSpentForgettable(expiresAt: number, now: number): boolean {
  return expiresAt <= now;
}
