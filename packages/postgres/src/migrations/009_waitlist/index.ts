import { applies } from './applies.js';
import { predicates } from './predicates.js';
import { tables } from './tables.js';

/**
 * Migration 9, the waitlist (issue 23, SPEC §11 "Waitlist"): a schedule's
 * list of users waiting for a seat, the holds offered from it, and the
 * offers every freeing of seats makes in its own transaction (the keeper's
 * expiry, a cancel, a refund). Only additions, in the baseline's parts.
 */
export const waitlist = [tables, predicates, applies].join('\n');
