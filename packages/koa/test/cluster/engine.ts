/**
 * Imported first by every file here (imports run in order): the HTTP test
 * file imported next runs against the real server with `WORKERS=2` over
 * PostgreSQL (see `startApi` in `../helpers/api.ts`).
 */
process.env['USHER_TEST_ENGINE'] = 'cluster';
