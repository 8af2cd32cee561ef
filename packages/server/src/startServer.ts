import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEngine, type CatalogInput, type UsherEngine } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { fileKeyVault, SigningKeys } from '@usher/engine/signing';
import { createPostgresEngine, postgresKeyVault } from '@usher/postgres';
import pg from 'pg';
import { decideLoadCatalog } from '@usher/engine/rules';
import { createApp, HttpProblem, Telemetry, toProblem, type AppOptions } from '@usher/koa';
import { webFile } from '@usher/web';
import { send } from '@koa/send';
import Koa from 'koa';
import mount from 'koa-mount';
import type { Logger } from 'pino';
import { StartupError, type ServerConfig } from './config.js';
import { limitConnections, serverOptions } from './connectionLimits.js';
import { apiDocs } from './docs.js';
import { identityResolver } from './identity.js';
import { createAdminGuessLimiter, createTokenLimiter } from './limiters.js';
import { crossOrigin, securityHeaders } from './security.js';

const demoCatalog = new URL('../catalog/demo.json', import.meta.url);
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export interface RunningServer {
  readonly url: string;
  readonly engine: UsherEngine;
  readonly server: Server;
  /** Graceful shutdown: refuse new requests, finish in-flight ones, flush and close the store (also after a failure). */
  close(): Promise<void>;
  /**
   * Resolves once the engine has failed (a write the store could not make
   * durable, or a command that faulted) and the server has then shut down as
   * gracefully as on SIGTERM. Never rejects. The process should exit 1 then,
   * so that its supervisor restarts it: a restart restores what is durable.
   */
  readonly failed: Promise<Error>;
}

/**
 * Listens on `host:port`, then opens the lowdb store in `dataDir`, loads the
 * catalog on first start, and serves the page and the API. A failure to start
 * is a {@link StartupError} (one sentence, naming the setting) where it can be
 * explained, and leaves `dataDir` as it was when the address or the catalog is bad.
 */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  // Everything that can be checked is checked before the data folder is touched:
  // the catalog, then the address (listening first: a port in use or a bad HOST
  // leaves DATA_DIR as it was). Until the engine is open, requests are 503, each
  // with its access-log line. A cluster worker listens last instead, once it can
  // serve: the primary deals connections to a worker as soon as it listens, and
  // the other workers serve meanwhile (the database, not DATA_DIR, holds the state).
  const catalog = await readCatalog(config.catalog);
  const listenFirst = !cluster.isWorker;
  // Request ids, the access log and the HTTP metrics for every request, the page's and the docs' too.
  // In a cluster (WORKERS>1) a scrape reaches one worker: its metrics say which.
  const telemetry = new Telemetry({
    logger,
    ...(cluster.isWorker ? { labels: { worker: String(cluster.worker!.id) } } : {}),
  });
  let handle: RequestListener = startingAnswer(telemetry);
  const server = createServer(serverOptions(config.http), (request, response) =>
    handle(request, response),
  );
  server.keepAliveTimeout = 65_000;
  limitConnections(server, config.http, logger);
  // Malformed HTTP never reaches Koa: answer it as a problem too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // Too slow (nothing sent, slow headers or body: HTTP_*_TIMEOUT_MS): closed without an answer.
    if (
      !socket.writable ||
      error.code === 'ECONNRESET' ||
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    )
      return socket.destroy();
    logger.info(
      { route: 'malformed', status: 400, error: error.code },
      'malformed HTTP request 400',
    );
    const body = JSON.stringify({
      ...toProblem(
        Object.assign(new Error('malformed HTTP request'), { status: 400 }),
        'urn:usher:problem:',
      ).body,
      detail: 'malformed HTTP request',
    });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  if (listenFirst) await listen(server, config);

  const { store, engine } = await openEngine(config, catalog, logger).catch(
    async (error: unknown) => {
      if (listenFirst) {
        const closed = new Promise((resolve) => server.close(resolve));
        server.closeAllConnections();
        await closed;
      }
      throw error;
    },
  );

  // PostgreSQL mode: the limits on joining and on admin guesses are counted in the database, shared
  // by every gateway, through a small pool of their own (spent proof-of-work solutions are the
  // engine's). Counts need no durability: their commits do not wait for the disk.
  const limiterPool =
    config.database === undefined
      ? undefined
      : new pg.Pool({
          connectionString: config.database.url,
          max: 4,
          application_name: `usher-limits-${process.pid}`,
          options: '-c synchronous_commit=off',
        });
  limiterPool?.on('error', () => undefined);
  // The keys of passes and ticket codes: the operator's, or generated once and kept beside the data
  // (DATA_DIR, or the database, where every gateway finds the same).
  const signingKeys = await openSigningKeys(config).catch(async (error: unknown) => {
    await engine.close().catch(() => undefined);
    await limiterPool?.end().catch(() => undefined);
    throw error;
  });
  let shuttingDown = false;
  // The page at `/` and the scanner's at `/scan` (static files, known paths only: API requests never
  // touch the disk), then the API.
  const host = new Koa();
  // Mounted, the API runs on the host's context: the client address (TRUST_PROXY) is the host's to read.
  host.proxy = config.trustProxy;
  host.maxIpsCount = 1;
  host.use(telemetry.middleware());
  // Security headers on everything; CORS for the origins in CORS_ORIGINS only; the API docs at /docs.
  host.use(securityHeaders());
  const cors = crossOrigin(config.corsOrigins);
  if (cors !== undefined) host.use(cors);
  host.use(apiDocs());
  // Where the page may send an admitted visitor back with their pass (PASS_RETURN_ORIGINS).
  const returnOrigins = JSON.stringify({ origins: config.passReturnOrigins });
  host.use((ctx, next) => {
    if (ctx.path !== '/pass/return-origins' || ctx.method !== 'GET') return next();
    ctx.state.route = ctx.path;
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = returnOrigins;
    return undefined;
  });
  host.use((ctx, next) => {
    const target = ctx.method === 'GET' || ctx.method === 'HEAD' ? webFile(ctx.path) : undefined;
    if (target === undefined) return next();
    ctx.state.route = ctx.path;
    return send(ctx, target.file, { root: target.root, maxage: 60_000 }).then(() => undefined);
  });
  host.use(
    mount(
      createApp(engine, {
        isShuttingDown: () => shuttingDown,
        maxStreamsPerToken: config.streams.maxPerToken,
        streamMaxLifetimeMs: config.streams.maxLifetimeMs,
        // Signed-in mode (AUTH_JWT_SECRET or AUTH_JWKS_URL): the user is a verified JWT's; else the demo's claimed userId.
        ...(config.identity !== undefined
          ? { resolveUserId: identityResolver(config.identity)! }
          : {}),
        ...(await operations(config, logger, limiterPool)),
        telemetry,
        logger,
        signingKeys,
      }),
    ),
  );
  // Mounted, the API's faults are emitted by the host app. A client hanging up
  // mid-answer (closing the waiting page ends its event stream) is not a fault.
  host.on('error', (error: NodeJS.ErrnoException) => {
    if (CLIENT_GONE.has(error?.code ?? '')) logger.debug({ err: error }, 'client went away');
    else logger.error({ err: error }, 'unexpected error');
  });
  logger[config.publicDemo ? 'warn' : 'info'](
    config.identity === undefined
      ? `identity: DEMO mode, the userId in the body is taken on trust (anyone may act as anyone)${config.publicDemo ? `, and HOST ${config.host} serves it to other machines (ALLOW_PUBLIC_DEMO=true)` : ''}; set AUTH_JWT_SECRET or AUTH_JWKS_URL to verify sign-ins`
      : `identity: signed-in mode, the ${config.identity.userClaim} claim of a verified JWT (X-User-Token header or usher_identity cookie)`,
  );
  if (config.identity?.anyAudience)
    logger.warn(
      "AUTH_ANY_AUDIENCE=true: JWTs the identity provider signed for ANY app are taken as sign-ins here; set AUTH_AUDIENCE to this app's audience",
    );
  handle = host.callback();
  if (!listenFirst)
    await listen(server, config).catch(async (error: unknown) => {
      await engine.close().catch(() => undefined);
      await limiterPool?.end().catch(() => undefined);
      throw error;
    });
  const { port } = server.address() as AddressInfo;
  const hostname = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  const running: RunningServer = {
    url: `http://${hostname}:${port}`,
    engine,
    server,
    failed: engine.whenFailed.then(async (failure) => {
      logger.fatal({ err: failure }, 'the engine failed; draining, then exiting to be restarted');
      await running
        .close()
        .catch((error: unknown) => logger.fatal({ err: error }, 'shutdown failed'));
      return failure;
    }),
    close: () =>
      (closing ??= (async () => {
        shuttingDown = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive connections go as soon as they are idle; after the grace period, all of them.
        const idle = setInterval(() => server.closeIdleConnections(), 100);
        const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
        await closed;
        clearInterval(idle);
        clearTimeout(force);
        const journal = store?.stats;
        // A failed engine answers nothing, stats included; its store is closed all the same.
        const { lastTickMs, maxTickMs, watchedTokens } = await engine
          .stats()
          .catch(() => ({ lastTickMs: undefined, maxTickMs: undefined, watchedTokens: undefined }));
        await engine.close();
        await limiterPool?.end().catch(() => undefined);
        logger.info(
          {
            ...(journal !== undefined
              ? {
                  journal,
                  averageGroup:
                    Math.round((journal.records / Math.max(1, journal.groups)) * 10) / 10,
                }
              : {}),
            lastTickMs,
            maxTickMs,
            watchedTokens,
          },
          store !== undefined ? 'store closed' : 'engine closed',
        );
      })()),
  };
  return running;
}

/**
 * The operator's side of the app (SPEC §9): the admin token, the limit on
 * joining, the proof of work, the proxy; each said once in the log. Counts
 * live in this process's memory, or in PostgreSQL mode in the database
 * (`pool`), so that every gateway shares them.
 */
async function operations(
  config: ServerConfig,
  logger: Logger,
  pool: pg.Pool | undefined,
): Promise<AppOptions> {
  const { perMinute, burstPerSecond } = config.tokenRate;
  logger.info(
    {
      operatorApi: config.adminToken !== undefined,
      checkIn: config.scannerToken !== undefined,
      tokenRate: perMinute === 0 ? 'off' : { perMinute, burstPerSecond },
      trustProxy: config.trustProxy,
      challenge:
        config.challenge === undefined
          ? 'off'
          : {
              maxNumber: config.challenge.maxNumber,
              sharedSecret: config.challenge.secret !== undefined,
            },
    },
    `operator API and /metrics ${config.adminToken === undefined ? 'off (set ADMIN_TOKEN)' : 'on'}; check-in ${config.scannerToken === undefined ? 'off (set SCANNER_TOKEN)' : 'on'}; joining ${perMinute === 0 ? 'not rate limited' : `limited to ${perMinute}/min and ${burstPerSecond}/s per address`}; proof of work ${config.challenge === undefined ? 'off' : 'on'}`,
  );
  const expiresInMs = 300_000;
  return {
    adminToken: config.adminToken,
    scannerToken: config.scannerToken,
    ...(config.adminToken === undefined
      ? {}
      : { adminGuessLimiter: await createAdminGuessLimiter({ logger, pool }) }),
    trustProxy: config.trustProxy,
    tokenLimiter: await createTokenLimiter(config, { logger, pool }),
    challenge:
      config.challenge === undefined
        ? undefined
        : {
            // Without QUEUE_CHALLENGE_SECRET, a key of this start: challenges issued before a restart no longer verify.
            hmacKey: config.challenge.secret ?? randomBytes(32).toString('hex'),
            maxNumber: config.challenge.maxNumber,
            expiresInMs,
          },
  };
}

/**
 * The signing keys (SPEC §11, §12): `PASS_SIGNING_KEY`/`TICKET_SIGNING_KEY` when set, else
 * generated once and kept in `DATA_DIR/signing-keys.json` or the database's `signing_keys`
 * (`pool`), so that every restart and every gateway signs with the same; previous keys published.
 */
async function openSigningKeys(config: ServerConfig): Promise<SigningKeys> {
  // A connection of its own: the limiter's pool commits without waiting for the disk, and a key must not be lost.
  const pool =
    config.database === undefined
      ? undefined
      : new pg.Pool({
          connectionString: config.database.url,
          max: 1,
          application_name: 'usher-keys',
        });
  pool?.on('error', () => undefined);
  try {
    return await SigningKeys.open({
      keys: config.signing.keys,
      previous: config.signing.previous,
      vault: pool !== undefined ? postgresKeyVault(pool) : fileKeyVault(config.dataDir),
    });
  } catch (error) {
    throw new StartupError(
      `the signing keys (${pool !== undefined ? 'table signing_keys' : `DATA_DIR ${config.dataDir}`}) cannot be opened: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    await pool?.end().catch(() => undefined);
  }
}

/**
 * Answers 503 while the engine opens (the server listens before the data folder is touched),
 * each with its request id and access-log line (route `starting`), as every other answer.
 */
function startingAnswer(telemetry: Telemetry): RequestListener {
  const app = new Koa();
  app.use(telemetry.middleware());
  app.use((ctx) => {
    ctx.state.route = 'starting';
    const problem = toProblem(
      new HttpProblem('UNAVAILABLE', 'the server is starting'),
      'urn:usher:problem:',
    );
    ctx.status = problem.status;
    ctx.set({ ...problem.headers, 'Retry-After': '1' });
    ctx.type = 'application/problem+json';
    ctx.body = JSON.stringify(problem.body);
  });
  return app.callback();
}

/** Listens on `HOST:PORT`; a failure becomes a sentence naming the setting to change. */
async function listen(server: Server, config: ServerConfig): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `port ${config.port} on ${config.host}`;
    const reasons: Record<string, string> = {
      EADDRINUSE: `${where} is already in use: stop what listens there, or set PORT to another port`,
      EADDRNOTAVAIL: `HOST ${config.host} is not an address of this machine: set HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for all)`,
      ENOTFOUND: `HOST ${config.host} is not a known host name: set HOST to an address of this machine (127.0.0.1, or 0.0.0.0 for all)`,
      EAI_AGAIN: `HOST ${config.host} could not be looked up: set HOST to an address of this machine (127.0.0.1, or 0.0.0.0 for all)`,
      EACCES: `listening on ${where} is not permitted: set PORT to a port above 1023, or give the process the right to bind low ports`,
    };
    throw new StartupError(
      reasons[code ?? ''] ?? `cannot listen on ${where}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Opens the engine: the lowdb store in `DATA_DIR`, or PostgreSQL at
 * `DATABASE_URL` (waiting for it while it cannot be reached, requests
 * answering 503 meanwhile); then loads the catalog into an empty one.
 */
async function openEngine(
  config: ServerConfig,
  catalog: { path: string; catalog: CatalogInput } | undefined,
  logger: Logger,
): Promise<{ store: LowdbStore | undefined; engine: UsherEngine }> {
  let store: LowdbStore | undefined;
  let engine: UsherEngine;
  if (config.database !== undefined) {
    engine = await openPostgres(config, config.database, logger);
  } else {
    try {
      store = new LowdbStore(config.dataDir, {
        fsync: config.fsync,
        onWarning: (message) => logger.warn(message),
      });
      engine = await createEngine({ store, config: config.engine });
    } catch (error) {
      throw new StartupError(
        `DATA_DIR ${config.dataDir}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
  const where =
    config.database !== undefined
      ? { database: redact(config.database.url) }
      : { dataDir: config.dataDir };
  try {
    const stats = await engine.stats();
    if (stats.concerts === 0) {
      const added = await engine.loadCatalog(
        catalog?.catalog ?? (JSON.parse(await readFile(demoCatalog, 'utf8')) as CatalogInput),
      );
      // Gateways starting together may all find the database empty: the first load adds, the others find it there.
      const message =
        added.concertsAdded + added.schedulesAdded > 0
          ? 'catalog loaded'
          : 'catalog already loaded (by another gateway starting at the same time)';
      logger.info({ catalog: catalog?.path ?? String(demoCatalog), ...added }, message);
    } else {
      logger.info({ ...where, ...stats }, 'state restored');
      if (catalog !== undefined) {
        const holder =
          config.database !== undefined ? 'the database' : `DATA_DIR ${config.dataDir}`;
        logger.warn(
          { catalog: catalog.path, ...where },
          `CATALOG ${catalog.path} is not loaded: ${holder} already holds a catalog (${stats.concerts} concerts), and CATALOG is loaded into an empty ${config.database !== undefined ? 'database' : 'DATA_DIR'} only`,
        );
      }
    }
  } catch (error) {
    await engine.close().catch(() => {});
    throw error;
  }
  return { store, engine };
}

/** Reads and checks `CATALOG` before anything is opened; every failure names the variable. */
async function readCatalog(
  path: string | undefined,
): Promise<{ path: string; catalog: CatalogInput } | undefined> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new StartupError(
      `CATALOG ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): set CATALOG to a JSON catalog file, or unset it for the demo catalog`,
      { cause: error },
    );
  }
  let catalog: CatalogInput;
  try {
    catalog = JSON.parse(text) as CatalogInput;
  } catch (error) {
    throw new StartupError(`CATALOG ${path} is not JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  try {
    decideLoadCatalog({ concert: () => undefined, schedule: () => undefined }, catalog);
  } catch (error) {
    throw new StartupError(`CATALOG ${path} is not a valid catalog: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { path, catalog };
}

/**
 * Opens the PostgreSQL engine. While the database cannot be reached it tries
 * again (0.5 s, doubling up to 5 s) and the server answers 503 meanwhile: a
 * gateway started before its database, or during a failover, comes up by
 * itself (SIGTERM meanwhile stops it). A misconfigured `DATABASE_URL` (a
 * wrong password, user or database name) is a start-up error at once.
 */
async function openPostgres(
  config: ServerConfig,
  database: { url: string; poolSize: number },
  logger: Logger,
): Promise<UsherEngine> {
  for (let delayMs = 500; ; delayMs = Math.min(delayMs * 2, 5_000)) {
    try {
      return await createPostgresEngine({
        connectionString: database.url,
        poolSize: database.poolSize,
        config: config.engine,
        applicationName: `usher-gateway-${process.pid}`,
      });
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code !== 'UNAVAILABLE') {
        throw new StartupError(
          `DATABASE_URL ${redact(database.url)}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      logger.warn(
        { database: redact(database.url), err: error, retryInMs: delayMs },
        'the database cannot be reached yet; trying again',
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}
