import { applies } from './applies.js';
import { issue } from './issue.js';
import { keeper } from './keeper.js';
import { predicates } from './predicates.js';
import { tables } from './tables.js';

/**
 * Migration 1, the baseline: the whole schema as it stood when the first
 * version was released (the nine migrations before it were never released
 * and are squashed here). In parts, each created once: the tables, the rules'
 * predicates and the shared functions, the commands' applies, issuing, the
 * keeper's writes. `schema.sql` (the package's root) is what it builds.
 */
export const baseline = [tables, predicates, applies, issue, keeper].join('\n');
