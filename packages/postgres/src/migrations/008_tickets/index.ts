import { applies } from './applies.js';
import { predicates } from './predicates.js';
import { tables } from './tables.js';

/**
 * Migration 8, tickets (issue 23, SPEC §11): tickets, check-in, refunds,
 * transfers. Only additions, in the baseline's parts: the tickets' table (and
 * the tickets of reservations paid before it), a wallet's refunds, the
 * tickets' predicates and count, and their applies.
 */
export const tickets = [tables, predicates, applies].join('\n');
