import { rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, startPostgres, type PostgresServer } from '@usher/testkit';
import { ALL_CORES, setPostgresAffinity } from '../http/affinity.js';
import { startServer, stopServer } from '../http/load.js';
import { benchCatalog, type UsherServer } from './usherServer.js';

/** The server in PostgreSQL mode: the database it runs on, for the invariants afterwards. */
export interface ClusterServer extends UsherServer {
  readonly databaseUrl: string;
  /** The primary and its workers (and, with `postgres`, the database's processes): whose CPU time a row counts. */
  readonly pids: () => number[];
}

/** The room's `maxActive` for a cluster: above every provisioned user, reached by a long token storm. */
export const CLUSTER_MAX_ACTIVE = 20_000;

let shared: Promise<PostgresServer> | undefined;

/** One PostgreSQL server for the whole bench run (synchronous commit and fsync on, as shipped); a fresh database per cluster. */
export function benchPostgres(): Promise<PostgresServer> {
  // BENCH_PG_STATEMENTS=1: PostgreSQL counts its statements too (pg_stat_statements), for a look at where its time went.
  const statements =
    process.env['BENCH_PG_STATEMENTS'] === '1'
      ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' }
      : {};
  shared ??= startPostgres({
    settings: { max_connections: '300', shared_buffers: '512MB', ...statements },
  });
  return shared;
}

export async function stopBenchPostgres(): Promise<void> {
  if (shared) await (await shared).remove();
  shared = undefined;
}

/**
 * The real server (`@usher/server`, built) with `DATABASE_URL` and
 * `WORKERS=workers`, on a fresh database of the bench's PostgreSQL. The server
 * (its primary, and the workers it forks) and PostgreSQL run on `cores`, given
 * explicitly (default: all of them): the workers, PostgreSQL and the load
 * generator share the machine's two cores, as a gateway and its database would
 * on one small machine, whatever mask the process that starts them has.
 */
export async function startCluster(
  workers: number,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  cores: string = ALL_CORES,
): Promise<ClusterServer> {
  const postgres = await benchPostgres();
  setPostgresAffinity(postgres.dataDir, cores);
  const databaseUrl = await createDatabase(postgres);
  const folder = mkdtempSync(join(tmpdir(), 'usher-bench-cluster-'));
  const catalog = join(folder, 'catalog.json');
  writeFileSync(catalog, JSON.stringify(benchCatalog));
  const main = fileURLToPath(import.meta.resolve('@usher/server/main'));
  const { url, child, output } = await startServer(
    main,
    [],
    {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      WORKERS: String(workers),
      CATALOG: catalog,
      LOG_LEVEL: 'info',
      QUEUE_MAX_ACTIVE: String(CLUSTER_MAX_ACTIVE),
      QUEUE_ADMIT_PER_TICK: '1000',
      TOKEN_ACTIVE_TTL_MS: '3600000',
      QUEUE_WAITING_TTL_MS: '3600000',
      MAX_CONNECTIONS_PER_ADDRESS: '0',
      ...env,
    },
    nodeArgs,
    [],
    { pin: cores, ready: /usher listening on (http:\/\/127\.0\.0\.1:\d+)/ },
  );
  const workerPids = () =>
    output.flatMap((line) =>
      line.includes('"worker ready"') ? [Number(/"pid":(\d+)/.exec(line)?.[1])] : [],
    );
  return {
    url,
    output,
    dataDir: folder,
    databaseUrl,
    pid: child.pid,
    pids: () => [child.pid!, ...workerPids()],
    stop: () => stopServer(child),
    cleanup: () => rmSync(folder, { recursive: true, force: true }),
  };
}
