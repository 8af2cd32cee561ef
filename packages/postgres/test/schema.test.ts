import { readFile } from 'node:fs/promises';
import test from 'ava';
import { usePostgres } from '@usher/testkit';
import { dumpSchema, SCHEMA_FILE } from './schema/dumpSchema.js';

/**
 * `schema.sql` is the schema the migrations build, committed so that a
 * reader sees today's schema in one file (as graphile-worker does). When a
 * migration changes what they build and the dump was not regenerated, this
 * fails: run `pnpm --filter @usher/postgres schema:dump` and commit the diff.
 */
const server = usePostgres(test);

test('schema.sql is what the migrations build', async (t) => {
  const built = await dumpSchema(server());
  const committed = await readFile(SCHEMA_FILE, 'utf8');
  if (built === committed) return t.pass();
  const builtLines = built.split('\n');
  const committedLines = committed.split('\n');
  const first = builtLines.findIndex((line, i) => line !== committedLines[i]);
  // The first line names pg_dump's major version: another version prints the same schema otherwise.
  if (first === 0)
    return t.fail(
      `schema.sql was dumped by another pg_dump: ${committedLines[0]} / here: ${builtLines[0]}`,
    );
  t.fail(
    `schema.sql differs from what the migrations build, from line ${first + 1}:\n` +
      `  committed: ${committedLines[first] ?? '(end)'}\n  built:     ${builtLines[first] ?? '(end)'}\n` +
      'run `pnpm --filter @usher/postgres schema:dump` and commit schema.sql',
  );
});
