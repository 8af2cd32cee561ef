import { keeper } from './keeper.js';
import { predicates } from './predicates.js';
import { tables } from './tables.js';

/**
 * Migration 2, the edge hardened (issue 21): a sold-out token kept with its
 * reason, and spent proof-of-work solutions. Only additions, in the
 * baseline's parts: the tables, a predicate, a keeper write.
 */
export const edge = [tables, predicates, keeper].join('\n');
