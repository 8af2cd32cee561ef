import { orders } from './orders.js';
import { predicates } from './predicates.js';
import { tables } from './tables.js';

/**
 * Migration 3, orders (issue 22, SPEC §10): several seats in one
 * reservation, a user's tickets, extending a hold. Only additions, in the
 * baseline's parts: columns and a table of seats, predicates, the seats'
 * triggers and two apply kinds.
 */
export const orders3 = [tables, predicates, orders].join('\n');
