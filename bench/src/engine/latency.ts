/**
 * Does an acknowledged command cost more when the state is large? Builds a
 * state of N seats with N/10 of them sold (through the engine, on a lowdb store
 * with fsync, compacting in the background), then times acknowledged charges
 * one at a time (each waits for its own group commit) and 100 at a time.
 * Charges write one journal record each and use up no seats, so both sizes
 * time the same operation.
 *
 * `node latency.js 1000` vs `node latency.js 1000000`
 */
import { createEngine } from '@usher/engine';
import type { LowdbStore } from '@usher/engine/lowdb';
import { stadiumCatalog, stadiumSeat } from './bigState.js';
import { openStore } from './stores.js';

const seats = Number(process.argv[2] ?? 1_000);
const HOLDS = 4;
const sold = Math.floor(seats / 10);
const users = Math.ceil(sold / HOLDS) + 100;

const opened = openStore('lowdb', { segmentBytes: 8 * 1024 * 1024 });
const engine = await createEngine({
  store: opened.store,
  config: {
    queueMaxActive: users,
    queueTickMs: 86_400_000,
    holdSweepMs: 86_400_000,
    maxHoldsPerUser: HOLDS,
    maxTicketsPerUser: 10_000,
  },
});
await engine.loadCatalog(stadiumCatalog(seats, 1_000));

async function inBatches(
  count: number,
  size: number,
  run: (i: number) => Promise<unknown>,
): Promise<void> {
  for (let from = 0; from < count; from += size)
    await Promise.all(
      Array.from({ length: Math.min(size, count - from) }, (_, i) => run(from + i)),
    );
}

// Build the state: users with tokens, and a tenth of the seats sold.
const tokens: string[] = new Array(users);
await inBatches(
  users,
  1_000,
  async (i) => (tokens[i] = (await engine.issueToken(`user-${i}`)).token.token),
);
const buyers = Math.ceil(sold / HOLDS);
await inBatches(buyers, 1_000, (i) =>
  engine.charge(tokens[i]!, { userId: `user-${i}`, amount: HOLDS * 1_000 }),
);
await inBatches(sold, 1_000, async (i) => {
  const hold = await engine.reserve(tokens[Math.floor(i / HOLDS)]!, stadiumSeat(i));
  await engine.pay(tokens[Math.floor(i / HOLDS)]!, { reservationId: hold.id });
});
await (opened.store as LowdbStore).whenCompacted();

const percentile = (values: number[], p: number) =>
  values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
const round = (ms: number) => Math.round(ms * 1000) / 1000;

// One at a time: each charge waits for its own write and fsync.
const serial: number[] = [];
for (let i = 0; i < 2_000; i++) {
  const user = buyers + (i % 100);
  const started = performance.now();
  await engine.charge(tokens[user]!, { userId: `user-${user}`, amount: 1 });
  serial.push(performance.now() - started);
}
// 100 at a time: group commit shares each fsync.
const concurrent: number[] = [];
const startedAll = performance.now();
await inBatches(20_000, 100, async (i) => {
  const user = buyers + (i % 100);
  const started = performance.now();
  await engine.charge(tokens[user]!, { userId: `user-${user}`, amount: 1 });
  concurrent.push(performance.now() - started);
});
const concurrentSeconds = (performance.now() - startedAll) / 1000;
await engine.close();
opened.cleanup();

process.stdout.write(
  `${JSON.stringify({
    seats,
    soldBeforehand: sold,
    serial: {
      n: serial.length,
      p50Ms: round(percentile(serial, 50)),
      p99Ms: round(percentile(serial, 99)),
    },
    concurrent100: {
      n: concurrent.length,
      opsPerSecond: Math.round(concurrent.length / concurrentSeconds),
      p50Ms: round(percentile(concurrent, 50)),
      p99Ms: round(percentile(concurrent, 99)),
    },
  })}\n`,
);
