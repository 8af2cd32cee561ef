import { schema } from './001_schema.js';
import { apply } from './002_apply.js';
import { applyMany } from './003_apply_many.js';
import { liveByUser } from './004_live_by_user.js';
import { room } from './005_room.js';
import { typedApply } from './006_typed_apply.js';
import { activeBound } from './007_active_bound.js';
import { issueRoom } from './008_issue_room.js';
import { admittedOnce } from './009_admitted_once.js';
import { edge } from './010_edge.js';

/** A versioned step of the schema, applied once, in order. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Every migration, in order. The SQL lives in TypeScript modules, so it is
 * found the same way from sources (tests, tsx) and from a built `dist`.
 * Never edit a released migration: add the next one.
 */
export const migrations: readonly Migration[] = [
  { version: 1, name: 'schema', sql: schema },
  { version: 2, name: 'apply', sql: apply },
  { version: 3, name: 'apply_many', sql: applyMany },
  { version: 4, name: 'live_by_user', sql: liveByUser },
  { version: 5, name: 'room', sql: room },
  { version: 6, name: 'typed_apply', sql: typedApply },
  { version: 7, name: 'active_bound', sql: activeBound },
  { version: 8, name: 'issue_room', sql: issueRoom },
  { version: 9, name: 'admitted_once', sql: admittedOnce },
  { version: 10, name: 'edge', sql: edge },
];
