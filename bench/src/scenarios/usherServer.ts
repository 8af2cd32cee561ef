import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CatalogInput } from '@usher/engine';
import { startServer, stopServer } from '../http/load.js';
import { ORDERS_ENV, ordersSchedules } from './orders.js';

/** Seats every bench date costs: a low price so a small charge covers several holds. */
export const PRICE = 1_000;

/** The dates the scenarios use. */
export const benchCatalog: CatalogInput = {
  concerts: [{ id: 'bench', title: 'Bench Night' }],
  schedules: [
    {
      id: 'browse',
      concertId: 'bench',
      startsAt: '2027-01-01T19:00:00Z',
      totalSeats: 50,
      price: PRICE,
    },
    {
      id: 'contention-50',
      concertId: 'bench',
      startsAt: '2027-01-02T19:00:00Z',
      totalSeats: 50,
      price: PRICE,
    },
    {
      id: 'contention-5000',
      concertId: 'bench',
      startsAt: '2027-01-03T19:00:00Z',
      totalSeats: 5_000,
      price: PRICE,
    },
    {
      id: 'checkout',
      concertId: 'bench',
      startsAt: '2027-01-04T19:00:00Z',
      totalSeats: 40_000,
      price: PRICE,
    },
    ...ordersSchedules,
  ],
};

export interface UsherServer {
  readonly url: string;
  /** The server's log lines so far. */
  readonly output: string[];
  readonly dataDir: string;
  /** The server's process id (its CPU time is read from /proc). */
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM): in-flight requests finish, the store is flushed. */
  stop(): Promise<void>;
  /** Removes the data folder. */
  cleanup(): void;
}

/**
 * The real server (`@usher/server`, built) as a child process on a temp lowdb folder, fsync on.
 * `wrapper`: a command node runs under (valgrind); `dataDir`: a folder a previous server left (its state is restored).
 */
export async function startUsher(
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  wrapper: string[] = [],
  dataDir = mkdtempSync(join(tmpdir(), 'usher-bench-server-')),
): Promise<UsherServer> {
  const catalog = join(dataDir, '..', `${dataDir.split('/').at(-1)}-catalog.json`);
  writeFileSync(catalog, JSON.stringify(benchCatalog));
  const main = fileURLToPath(import.meta.resolve('@usher/server/main'));
  const { url, child, output } = await startServer(
    main,
    [],
    {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      CATALOG: catalog,
      FSYNC: 'true',
      LOG_LEVEL: 'info',
      QUEUE_MAX_ACTIVE: '20000',
      QUEUE_ADMIT_PER_TICK: '1000',
      TOKEN_ACTIVE_TTL_MS: '3600000',
      QUEUE_WAITING_TTL_MS: '3600000',
      // Every load comes from 127.0.0.1: the per-address cap is for the internet, not for the bench.
      MAX_CONNECTIONS_PER_ADDRESS: '0',
      // …and so does the limit on joining (60 a minute per address by default): the token storm is one address.
      TOKEN_RATE_PER_MINUTE: '0',
      ...ORDERS_ENV,
      ...env,
    },
    nodeArgs,
    wrapper,
  );
  return {
    url,
    output,
    dataDir,
    pid: child.pid,
    stop: () => stopServer(child),
    cleanup: () => {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(catalog, { force: true });
    },
  };
}
