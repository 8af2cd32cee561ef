import test from 'ava';
import pg from 'pg';
import { migrate, migrations } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';

/**
 * The schema is stated once: every table, type, function (by its signature),
 * index, trigger and sequence is created by one migration, and a migration
 * only adds (nothing is dropped or replaced: a released migration is history,
 * and the next one builds on it).
 */
const server = usePostgres(test);

const CREATED =
  /\bCREATE\s+(?:UNIQUE\s+)?(TABLE|TYPE|FUNCTION|INDEX|TRIGGER|SEQUENCE)\s+([a-z_][a-z0-9_]*)\s*(\([^)]*\))?/gi;

/** What a migration's SQL creates: `kind name` (functions with their argument types). */
function created(sql: string): string[] {
  const found: string[] = [];
  for (const [, kind, name, args] of sql.matchAll(CREATED)) {
    const signature =
      kind!.toUpperCase() === 'FUNCTION'
        ? `(${(args ?? '()')
            .slice(1, -1)
            .split(',')
            .map((arg) => arg.trim().split(/\s+/).slice(1).join(' '))
            .join(', ')})`
        : '';
    found.push(`${kind!.toUpperCase()} ${name}${signature}`);
  }
  return found;
}

test('each table, type, function, index, trigger and sequence is created by one migration, once', (t) => {
  const where = new Map<string, number[]>();
  for (const migration of migrations)
    for (const name of created(migration.sql))
      where.set(name, [...(where.get(name) ?? []), migration.version]);
  const twice = [...where].filter(([, versions]) => versions.length > 1);
  t.deepEqual(twice, [], 'created more than once');
  t.true(
    where.has('FUNCTION usher_apply(usher_hold)'),
    'the overloads are told apart by their types',
  );
  t.true(where.has('TABLE usher_rate_limits'), "the rate limiter's table is the schema's");
});

/**
 * The one drop of the schema's history, by name: migration 7 (rooms of
 * concerts) replaces the baseline's one live token per user and one global
 * line by their per-room indexes (see its `tables.ts`).
 */
const ALLOWED_DROPS = ['DROP INDEX tokens_live_user;', 'DROP INDEX tokens_line;'];

/**
 * The functions replaced, by name: migration 10 (plans) states four queries
 * so that no plan of theirs can scan a whole table's live rows, with the
 * same signatures and answers (see its comment).
 */
const ALLOWED_REPLACES = [
  'CREATE OR REPLACE FUNCTION usher_ticket_count(',
  'CREATE OR REPLACE FUNCTION usher_tickets(',
  'CREATE OR REPLACE FUNCTION usher_issue_tickets(',
  'CREATE OR REPLACE FUNCTION usher_require_active(',
];

test('a migration only adds: nothing is dropped, replaced or renamed (but the drops and replacements allowed by name)', (t) => {
  for (const migration of migrations) {
    let sql = migration.sql;
    if (migration.name === 'rooms_pg')
      for (const drop of ALLOWED_DROPS) {
        t.true(sql.includes(drop), drop);
        sql = sql.replace(drop, '');
      }
    if (migration.name === 'plans')
      for (const replace of ALLOWED_REPLACES) {
        t.true(sql.includes(replace), replace);
        sql = sql.replace(replace, '');
      }
    t.notRegex(sql, /\bDROP\s/i, migration.name);
    t.notRegex(sql, /\bOR\s+REPLACE\b/i, migration.name);
    t.notRegex(migration.sql, /\bRENAME\b/i, migration.name);
  }
  // Numbers are given out to branches (3 orders, 4 rooms, 5 keys): ascending, each once, maybe with gaps until they merge.
  const versions = migrations.map((migration) => migration.version);
  t.deepEqual(
    versions,
    [...new Set(versions)].sort((a, b) => a - b),
    'numbered in order, once each',
  );
  t.is(versions[0], 1);
});

test('a database built by the squashed, unreleased migrations is refused with a sentence saying so, and left as it was', async (t) => {
  const pool = new pg.Pool({ connectionString: await createDatabase(server()), max: 1 });
  t.teardown(() => pool.end());
  await pool.query(
    'CREATE TABLE usher_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  await pool.query(
    `INSERT INTO usher_migrations (version, name) VALUES (1, 'schema'), (2, 'apply')`,
  );
  await t.throwsAsync(migrate(pool), { message: /1 schema, 2 apply.*squashed/ });
  t.is((await pool.query(`SELECT to_regclass('tokens') AS t`)).rows[0].t, null);
});
