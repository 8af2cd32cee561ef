import { issue } from './issue.js';
import { keeper } from './keeper.js';
import { rules } from './rules.js';
import { tables } from './tables.js';

/**
 * Migration 7, rooms of concerts on PostgreSQL (issue 25, SPEC §12): a
 * token's room, one live token per user per room, a line per room, the rooms
 * of concerts keyed by their id, and the issue and keeper writes that take a
 * room. Its one drop (the two baseline indexes it replaces) is said in
 * `tables.ts`.
 */
export const roomsPg = [tables, rules, issue, keeper].join('\n');
