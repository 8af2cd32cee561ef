/**
 * `@usher/testkit` (private): what the tests and the bench of several
 * packages share: a real PostgreSQL started for a test run, and the fixture
 * of the behaviour tests (a catalog, a start date, tokens made active, refusals).
 */
export {
  createDatabase,
  postgresBin,
  startPostgres,
  usePostgres,
  type PostgresServer,
  type StartPostgresOptions,
} from './postgresServer.js';
export { activeToken, catalog, manual, rejects, settle, simulatedClock, START } from './fixture.js';
export { unfitUserIds, userIdPieces } from './userIds.js';
