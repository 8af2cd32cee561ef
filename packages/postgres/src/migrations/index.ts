import { baseline } from './001_baseline/index.js';
import { edge } from './002_edge/index.js';
import { orders3 } from './003_orders/index.js';
import { rooms } from './004_rooms/index.js';
import { keys } from './005_keys/index.js';
import { roomsPg } from './007_rooms_pg/index.js';
import { tickets } from './008_tickets/index.js';
import { waitlist } from './009_waitlist/index.js';
import { plans } from './010_plans/index.js';

/** A versioned step of the schema, applied once, in order. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Every migration, in order. The SQL lives in TypeScript modules, so it is
 * found the same way from sources (tests, tsx) and from a built `dist`.
 *
 * A released migration never changes, and a new one only adds: new tables,
 * columns, types and functions (a new kind of command is a new type and a new
 * `usher_apply` overload; `usher_apply_each` serves it as it is). A function
 * or table is created in one migration only; `schema.sql` shows the sum, and a
 * test fails when the migrations build anything else.
 */
export const migrations: readonly Migration[] = [
  { version: 1, name: 'baseline', sql: baseline },
  { version: 2, name: 'edge', sql: edge },
  { version: 3, name: 'orders', sql: orders3 },
  { version: 4, name: 'rooms', sql: rooms },
  { version: 5, name: 'keys', sql: keys },
  { version: 7, name: 'rooms_pg', sql: roomsPg },
  { version: 8, name: 'tickets', sql: tickets },
  { version: 9, name: 'waitlist', sql: waitlist },
  { version: 10, name: 'plans', sql: plans },
];
