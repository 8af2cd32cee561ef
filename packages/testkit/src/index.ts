/**
 * `@usher/testkit` (private): what the tests and the bench of several
 * packages share. Today: a real PostgreSQL started for a test run.
 */
export {
  createDatabase,
  postgresBin,
  startPostgres,
  usePostgres,
  type PostgresServer,
  type StartPostgresOptions,
} from './postgresServer.js';
