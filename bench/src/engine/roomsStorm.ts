/**
 * The token storm and polls with rooms of concerts (issue 25): in-process
 * `issueToken` for new users, then `getToken` polls of their tokens, 1,000 in
 * flight, with CPU per command, for each room count in one process run. With
 * R rooms the catalog has R concerts, each with a room of its own, and the
 * users are spread over them round-robin; 0 rooms is the default room (one
 * concert without a room, users join without a concert). No tick runs: every
 * token is admitted by the one tick between the storm and the polls (it
 * publishes the lines, as the keeper does every second): each room (and the default room) lets in one
 * user at its first join, the rest wait (`statuses`: what the polls saw).
 *
 * `node roomsStorm.js postgres 50000 [polls] [rooms…]` (store as in
 * throughput.js; default rooms: 1 100). Not in bench:quick.
 */
import { createEngine, type CatalogInput, type UsherEngine } from '@usher/engine';
import { createPostgresEngine } from '@usher/postgres';
import pg from 'pg';
import { cpuSeconds, openDatabase, postgresCpuSeconds, reportStatements } from './postgres.js';
import { openStore, type StoreKind } from './stores.js';

const [storeKind = 'postgres', usersArg = '50000', pollsArg = '100000', ...roomArgs] =
  process.argv.slice(2);
const users = Number(usersArg);
const polls = Number(pollsArg);
const roomCounts = roomArgs.length > 0 ? roomArgs.map(Number) : [1, 100];
const CONCURRENCY = 1_000;
const WARM_UP = 2_000;
const config = {
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  tokenActiveTtlMs: 86_400_000,
  queueWaitingTtlMs: 86_400_000,
  queueMaxActive: 1,
};

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 100) / 100;

function catalog(rooms: number): CatalogInput {
  const ids = rooms === 0 ? ['c0'] : Array.from({ length: rooms }, (_, r) => `c${r + 1}`);
  return {
    concerts: ids.map((id) => ({
      id,
      title: `Concert ${id}`,
      ...(rooms === 0 ? {} : { room: { maxActive: 1, admitPerTick: 10 } }),
    })),
    schedules: ids.map((id) => ({
      id: `${id}-1`,
      concertId: id,
      startsAt: '2027-07-01T10:00:00Z',
      totalSeats: 100,
      price: 1_000,
    })),
  };
}

/** `run(0 … count-1)` with {@link CONCURRENCY} in flight: rate, latencies, CPU µs per command. */
async function timed<T>(
  count: number,
  dataDir: string | undefined,
  run: (i: number) => Promise<T>,
) {
  const results: T[] = new Array(count);
  const latencies = new Float64Array(count);
  let next = 0;
  const cpuBefore = cpuSeconds();
  const pgBefore = postgresCpuSeconds(dataDir);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) {
        const i = next++;
        const begun = performance.now();
        results[i] = await run(i);
        latencies[i] = performance.now() - begun;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const pgAfter = postgresCpuSeconds(dataDir);
  const node = cpuSeconds() - cpuBefore;
  const us = (cpu: number) => Math.round((cpu / count) * 1e6);
  latencies.sort();
  return {
    results,
    figures: {
      perSecond: Math.round(count / seconds),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      cpuUs: {
        node: us(node),
        ...(pgBefore === undefined || pgAfter === undefined
          ? {}
          : { postgres: us(pgAfter - pgBefore), total: us(node + pgAfter - pgBefore) }),
      },
    },
  };
}

async function run(rooms: number) {
  let engine: UsherEngine;
  let dataDir: string | undefined;
  let cleanup: () => Promise<void> | void;
  let analyze = async () => {};
  if (storeKind === 'postgres') {
    const database = await openDatabase();
    dataDir = database.dataDir;
    engine = await createPostgresEngine({ connectionString: database.connectionString, config });
    if (process.env['BENCH_PG_ANALYZE'] === '1')
      analyze = async () => {
        const client = new pg.Client({ connectionString: database.connectionString });
        await client.connect();
        await client.query('ANALYZE');
        await client.end();
      };
    cleanup = async () => {
      await reportStatements(database.connectionString);
      await database.remove();
    };
  } else {
    const opened = openStore(storeKind as StoreKind);
    engine = await createEngine({ store: opened.store, config });
    cleanup = opened.cleanup;
  }
  try {
    await engine.loadCatalog(catalog(rooms));
    const join = (i: number) => (rooms === 0 ? {} : { concertId: `c${1 + (i % rooms)}` });
    // Warm up (JIT, connections, prepared statements), unmeasured.
    await timed(WARM_UP, dataDir, (i) => engine.issueToken(`warm-${i}`, join(i)));
    const issue = await timed(users, dataDir, (i) => engine.issueToken(`user-${i}`, join(i)));
    const tokens = issue.results.map((issued) => issued.token.token);
    // One keeper tick publishes the lines (as the keeper does every second); nobody is admitted.
    await engine.tick();
    // BENCH_PG_ANALYZE=1: fresh planner statistics before the polls (as poll.js has them).
    await analyze();
    const statuses: Record<string, number> = {};
    const poll = await timed(polls, dataDir, async (i) => {
      const view = await engine.getToken(tokens[(i * 2_654_435_761) % users]!);
      statuses[view.status] = (statuses[view.status] ?? 0) + 1;
    });
    await engine.close();
    return {
      store: storeKind,
      rooms,
      users,
      polls,
      issue: issue.figures,
      poll: poll.figures,
      statuses,
    };
  } finally {
    await cleanup();
  }
}

for (const rooms of roomCounts) process.stdout.write(`${JSON.stringify(await run(rooms))}\n`);
