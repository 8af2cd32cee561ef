import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';

/** What a worker tells the primary once it listens and its engine is open. */
export interface WorkerReady {
  readonly type: 'usher:ready';
  readonly url: string;
}

export function isWorkerReady(message: unknown): message is WorkerReady {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'usher:ready'
  );
}

/** A worker that dies sooner than this after its start counts as a crash loop: the next one waits longer. */
const STABLE_AFTER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The primary of `WORKERS=N` (node:cluster): forks N gateway processes that
 * share the port, replaces one that dies (waiting longer each time one dies
 * young), and on SIGTERM/SIGINT has every worker drain (in-flight requests
 * finish, streams end, pools close) before exiting 0. A worker that cannot
 * start at first (a port in use, a bad DATABASE_URL) stops them all, exit 1:
 * its own message on stderr says why.
 *
 * The primary holds no state and opens no database connection: a gateway is
 * a worker, and any number of machines may run the same command.
 */
export function runPrimary(config: ServerConfig, logger: Logger): void {
  const started = new Map<Worker, number>();
  let ready = 0;
  let announced = false;
  let stopping: { signal: NodeJS.Signals; at: number } | undefined;
  let failed = false;
  let restartDelayMs = 0;

  const fork = () => {
    const worker = cluster.fork();
    started.set(worker, performance.now());
    worker.on('message', (message: unknown) => {
      if (!isWorkerReady(message)) return;
      ready++;
      if (!announced && ready >= config.workers) {
        announced = true;
        logger.info(
          { url: message.url, workers: config.workers },
          `usher listening on ${message.url} (${config.workers} workers)`,
        );
      }
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const since = started.get(worker) ?? performance.now();
    started.delete(worker);
    if (stopping !== undefined) {
      if (code !== 0) failed = true;
      if (started.size === 0) {
        logger.info('stopped');
        process.exit(failed ? 1 : 0);
      }
      return;
    }
    if (!announced) {
      // Could not start: the worker said why on stderr. Starting more would fail alike.
      logger.fatal({ worker: worker.id, code, signal }, 'a worker could not start; stopping');
      failed = true;
      stop('SIGTERM');
      return;
    }
    const lived = performance.now() - since;
    restartDelayMs =
      lived < STABLE_AFTER_MS
        ? Math.min(Math.max(restartDelayMs * 2, 1_000), MAX_RESTART_DELAY_MS)
        : 0;
    logger.warn(
      { worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: restartDelayMs },
      'a worker died; starting another',
    );
    setTimeout(() => {
      if (stopping === undefined) fork();
    }, restartDelayMs);
  });

  const stop = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches the whole process group (and pnpm forwards a copy): one stop is enough.
    if (stopping !== undefined) {
      if (performance.now() - stopping.at < 1_000) return;
      logger.warn({ signal }, 'stopping at once, without waiting for in-flight requests');
      for (const worker of started.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = { signal, at: performance.now() };
    logger.info({ signal, workers: started.size }, 'shutting down the workers');
    if (started.size === 0) process.exit(failed ? 1 : 0);
    for (const worker of started.keys()) worker.process.kill('SIGTERM');
    // A worker that does not drain in its grace period (and a little more) is killed.
    setTimeout(() => {
      for (const worker of started.keys()) worker.process.kill('SIGKILL');
    }, config.shutdownGraceMs + 5_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (let i = 0; i < config.workers; i++) fork();
}
