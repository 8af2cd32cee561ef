import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrate } from '@usher/postgres';
import { createDatabase, postgresBin, startPostgres, type PostgresServer } from '@usher/testkit';

/** The committed dump of the schema the migrations build (as graphile-worker's `schema.sql`). */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema.sql', import.meta.url));

/**
 * The schema the migrations build on a fresh database of `server`, as
 * `pg_dump --schema-only` prints it, normalized: no owners or privileges, and
 * without what changes from one dump to the next (the `\restrict` key, the
 * session settings, the versions line, runs of blank lines). The first line
 * names pg_dump's major version: another version prints another dump.
 */
export async function dumpSchema(server: PostgresServer): Promise<string> {
  const url = await createDatabase(server);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  const { stdout } = await promisify(execFile)(
    join(postgresBin(), 'pg_dump'),
    ['--schema-only', '--no-owner', '--no-privileges', '--dbname', url],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const version = /^-- Dumped by pg_dump version (\d+)/m.exec(stdout)?.[1] ?? 'unknown';
  const body = stdout
    .split('\n')
    .filter(
      (line) =>
        !/^\\(un)?restrict /.test(line) &&
        !/^-- Dumped (from|by) /.test(line) &&
        !/^SET /.test(line) &&
        !/^SELECT pg_catalog\.set_config/.test(line),
    )
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return `-- The schema @usher/postgres's migrations build (pg_dump ${version}, normalized).\n-- Generated: pnpm --filter @usher/postgres schema:dump. Do not edit; a test compares it.\n\n${body}\n`;
}

/** `pnpm --filter @usher/postgres schema:dump`: writes {@link SCHEMA_FILE} from a PostgreSQL of its own. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startPostgres();
  try {
    await writeFile(SCHEMA_FILE, await dumpSchema(server));
    process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
  } finally {
    await server.remove();
  }
}
