/**
 * Imported first by every file here (imports run in order): the HTTP test
 * file imported next builds its apps over the PostgreSQL engine (see
 * `startApi` in `../helpers/api.ts`). Same tests, same assertions.
 */
process.env['USHER_TEST_ENGINE'] = 'postgres';
