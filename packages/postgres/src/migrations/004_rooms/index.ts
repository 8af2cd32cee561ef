import { issue } from './issue.js';
import { tables } from './tables.js';

/**
 * Migration 4, rooms' presale codes (issue 25, SPEC §12). Only additions:
 * the codes' table, keyed by room; the head of the line (`priority_tokens`); and the
 * issue of a token with a code, which spends the code in the same
 * subtransaction as the token's insert.
 */
export const rooms = [tables, issue].join('\n');
