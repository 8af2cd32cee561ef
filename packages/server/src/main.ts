#!/usr/bin/env node
/**
 * The usher server: `pnpm start`. Reads the environment (SPEC §7), checks
 * CATALOG, listens, then opens the engine (the lowdb store in DATA_DIR, or
 * PostgreSQL at DATABASE_URL, SPEC §8) and loads the demo catalog (or CATALOG)
 * into an empty one; shuts down gracefully on SIGTERM or SIGINT (exit 0), or
 * after the engine failed (exit 1, to be restarted). With WORKERS=N (PostgreSQL
 * mode) this process is the cluster's primary and each worker is a gateway.
 */
import cluster from 'node:cluster';
import { createLogger } from './logger.js';
import { runPrimary, type WorkerReady } from './cluster.js';
import { readConfig, StartupError, type ServerConfig } from './config.js';
import { startServer } from './startServer.js';

/**
 * A failure to start is one plain sentence on stderr (naming the setting to
 * change), not a JSON log line: nobody has collected logs yet, and a person
 * reads it. An unexpected one (a bug) carries its stack as well.
 */
function cannotStart(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`usher cannot start: ${message}\n`);
  if (!(error instanceof StartupError) && error instanceof Error && error.stack)
    process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}

let config: ServerConfig;
try {
  // The environment first: the logger's level is one of its settings.
  config = readConfig(process.env);
} catch (error) {
  cannotStart(error);
}
// One synchronous write per line (see createLogger).
const base = cluster.isWorker
  ? { service: 'usher', worker: cluster.worker!.id, pid: process.pid }
  : { service: 'usher' };
const logger = createLogger(config.logLevel, base);
if (!cluster.isWorker) for (const warning of config.warnings) logger.warn(warning);

if (config.workers > 1 && cluster.isPrimary) {
  // WORKERS=N (PostgreSQL mode): this process only forks, watches and stops the gateways.
  runPrimary(config, logger);
} else {
  await serve(config);
}

async function serve(config: ServerConfig): Promise<void> {
  // A signal while the engine still opens (PostgreSQL not reachable yet): nothing to drain.
  const early = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'stopped before the engine was open');
    process.exit(0);
  };
  process.on('SIGTERM', early);
  process.on('SIGINT', early);
  // A cluster worker whose primary died (SIGKILL, say) must not live on as an orphan holding connections and
  // perhaps the keeper's seat: it drains and exits as on SIGTERM.
  const orphaned = () => early('SIGTERM');
  if (cluster.isWorker) process.on('disconnect', orphaned);
  try {
    const running = await startServer(config, logger);
    let stopping: number | undefined;
    const stop = (signal: NodeJS.Signals) => {
      // Ctrl-C reaches every process of the terminal's group, and pnpm or npm also forward it to
      // their child: a second signal within a second is that copy. A later one stops at once.
      if (stopping !== undefined) {
        if (performance.now() - stopping < 1_000) return;
        logger.warn({ signal }, 'stopping at once, without waiting for in-flight requests');
        process.exit(1);
      }
      stopping = performance.now();
      logger.info({ signal }, 'shutting down');
      running.close().then(
        () => {
          logger.info('stopped');
          process.exit(running.engine.health.status === 'failed' ? 1 : 0);
        },
        (error: unknown) => {
          logger.fatal({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.off('SIGTERM', early);
    process.off('SIGINT', early);
    process.off('disconnect', orphaned);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    if (cluster.isWorker) {
      process.on('disconnect', () => {
        if (stopping !== undefined) return;
        logger.warn('the cluster primary is gone; draining and exiting');
        stop('SIGTERM');
      });
    }
    // Announced once a signal already stops it gracefully (in a cluster, by the primary once every worker is up).
    const where =
      config.database !== undefined ? { database: 'postgres' } : { dataDir: config.dataDir };
    if (cluster.isWorker) {
      logger.info({ url: running.url, ...where }, 'worker ready');
      process.send!({ type: 'usher:ready', url: running.url } satisfies WorkerReady);
    } else {
      logger.info({ url: running.url, ...where }, `usher listening on ${running.url}`);
    }
    // After a failure the server drains and closes the store, then exits 1 for its supervisor (systemd, Kubernetes) to restart it.
    void running.failed.then(() => {
      logger.info('stopped after a failure');
      process.exit(1);
    });
  } catch (error) {
    cannotStart(error);
  }
}
