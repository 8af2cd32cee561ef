#!/usr/bin/env node
/**
 * The usher server: `pnpm start`. Reads the environment (SPEC §7), opens the
 * lowdb store in DATA_DIR, loads the demo catalog (or CATALOG) on first start,
 * listens, and shuts down gracefully on SIGTERM or SIGINT (exit 0), or after
 * the engine failed (exit 1, to be restarted).
 */
import { pino } from 'pino';
import { readConfig } from './config.js';
import { startServer } from './startServer.js';

// Synchronous writes: the server logs rarely (start, stop, faults), and a line written
// just before `process.exit` must not be lost.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'usher' } }, pino.destination({ dest: 1, sync: true }));

try {
  const config = readConfig(process.env);
  const running = await startServer(config, logger);
  logger.info({ url: running.url, dataDir: config.dataDir }, `usher listening on ${running.url}`);
  const stop = (signal: NodeJS.Signals) => {
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
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // After a failure the server drains and closes the store, then exits 1 for its supervisor (systemd, Kubernetes) to restart it.
  void running.failed.then(() => {
    logger.info('stopped after a failure');
    process.exit(1);
  });
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'failed to start');
  process.exit(1);
}
