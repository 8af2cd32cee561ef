/**
 * `@usher/postgres`: the usher engine over PostgreSQL, for many processes
 * over one database. Same `UsherEngine` interface and rules as the embedded
 * engine (`@usher/engine`); see {@link PostgresEngine} for how it works.
 */
export { createPostgresEngine, type PostgresEngineOptions } from './createPostgresEngine.js';
export { PostgresEngine } from './PostgresEngine.js';
export { migrate } from './database.js';
export { postgresKeyVault } from './keyVault.js';
export { migrations, type Migration } from './migrations/index.js';
export { readContents } from './readContents.js';
export { LOCKS, RATE_LIMITS_TABLE, SQLSTATE } from './names.js';
