import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEngine, type CatalogInput, type UsherEngine } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { createApp, toProblem } from '@usher/koa';
import { webPaths, webRoot } from '@usher/web';
import { send } from '@koa/send';
import Koa from 'koa';
import mount from 'koa-mount';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';
import { limitConnections, serverOptions } from './connectionLimits.js';
import { apiDocs } from './docs.js';
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
 * Opens the lowdb store in `dataDir`, loads the catalog on first start, and
 * serves the API on `host:port`.
 */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const store = new LowdbStore(config.dataDir, { fsync: config.fsync, onWarning: (message) => logger.warn(message) });
  const engine = await createEngine({ store, config: config.engine });
  const stats = await engine.stats();
  if (stats.concerts === 0) {
    const source = config.catalog ?? demoCatalog;
    const catalog = JSON.parse(await readFile(source, 'utf8')) as CatalogInput;
    const added = await engine.loadCatalog(catalog);
    logger.info({ catalog: String(source), ...added }, 'catalog loaded');
  } else {
    logger.info({ dataDir: config.dataDir, ...stats }, 'state restored');
  }

  let shuttingDown = false;
  // The page at `/` (static files, known paths only: API requests never touch the disk), then the API.
  const host = new Koa();
  // Security headers on everything; CORS for the origins in CORS_ORIGINS only; the API docs at /docs.
  host.use(securityHeaders());
  const cors = crossOrigin(config.corsOrigins);
  if (cors !== undefined) host.use(cors);
  host.use(apiDocs());
  host.use(async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !webPaths.has(ctx.path)) return next();
    await send(ctx, ctx.path === '/' ? 'index.html' : ctx.path.slice(1), { root: webRoot, maxage: 60_000 });
  });
  host.use(
    mount(createApp(engine, { isShuttingDown: () => shuttingDown, maxStreamsPerToken: config.streams.maxPerToken, streamMaxLifetimeMs: config.streams.maxLifetimeMs })),
  );
  // Mounted, the API's faults are emitted by the host app. A client hanging up
  // mid-answer (closing the waiting page ends its event stream) is not a fault.
  host.on('error', (error: NodeJS.ErrnoException) => {
    if (CLIENT_GONE.has(error?.code ?? '')) logger.debug({ err: error }, 'client went away');
    else logger.error({ err: error }, 'unexpected error');
  });
  const server = createServer(serverOptions(config.http), host.callback());
  server.keepAliveTimeout = 65_000;
  limitConnections(server, config.http, logger);
  // Malformed HTTP never reaches Koa: answer it as a problem too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // Too slow (nothing sent, slow headers or body: HTTP_*_TIMEOUT_MS): closed without an answer.
    if (!socket.writable || error.code === 'ECONNRESET' || error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return socket.destroy();
    const body = JSON.stringify({ ...toProblem(Object.assign(new Error('malformed HTTP request'), { status: 400 }), 'urn:usher:problem:').body, detail: 'malformed HTTP request' });
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
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
      await running.close().catch((error: unknown) => logger.fatal({ err: error }, 'shutdown failed'));
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
        const journal = store.stats;
        // A failed engine answers nothing, stats included; its store is closed all the same.
        const { lastTickMs, maxTickMs, watchedTokens } = await engine.stats().catch(() => ({ lastTickMs: undefined, maxTickMs: undefined, watchedTokens: undefined }));
        await engine.close();
        logger.info(
          { journal, averageGroup: Math.round((journal.records / Math.max(1, journal.groups)) * 10) / 10, lastTickMs, maxTickMs, watchedTokens },
          'store closed',
        );
      })()),
  };
  return running;
}
