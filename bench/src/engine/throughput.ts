/**
 * In-process commands per second for issue, reserve, charge and pay, through
 * the engine's public API with its durability barrier. Commands are sent 1,000
 * at a time (`Promise.all`), as a server under load would send them.
 *
 * `node throughput.js lowdb 200000` (store: discard | memory | lowdb | lowdb-nofsync)
 */
import { createEngine, type Engine } from '@usher/engine';
import { openStore, type StoreKind } from './stores.js';

const [storeKind = 'memory', countArg = '200000'] = process.argv.slice(2);
const count = Number(countArg);
const HOLDS_PER_USER = 4;
const users = Math.ceil(count / HOLDS_PER_USER);
const CONCURRENCY = 1_000;

async function timed<T>(count: number, run: (i: number) => Promise<T>): Promise<{ opsPerSecond: number; results: T[] }> {
  const results: T[] = new Array(count);
  const started = performance.now();
  for (let from = 0; from < count; from += CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONCURRENCY, count - from) }, (_, i) => run(from + i));
    const settled = await Promise.all(batch);
    for (let i = 0; i < settled.length; i++) results[from + i] = settled[i]!;
  }
  return { opsPerSecond: Math.round(count / ((performance.now() - started) / 1000)), results };
}

const opened = openStore(storeKind as StoreKind);
const engine: Engine = await createEngine({
  store: opened.store,
  config: { queueMaxActive: users, queueTickMs: 86_400_000, holdSweepMs: 86_400_000, maxHoldsPerUser: HOLDS_PER_USER },
});
await engine.loadCatalog({
  concerts: [{ id: 'c', title: 'Bench' }],
  schedules: [{ id: 's', concertId: 'c', startsAt: '2027-07-01T10:00:00Z', totalSeats: count, price: 1_000 }],
});

const issue = await timed(users, (i) => engine.issueToken(`user-${i}`));
const tokens = issue.results.map((issued) => issued.token.token);
const reserve = await timed(count, (i) => engine.reserve(tokens[i % users]!, { scheduleId: 's', seatNo: i + 1 }));
const charge = await timed(users, (i) => engine.charge(tokens[i]!, { userId: `user-${i}`, amount: 1_000 * HOLDS_PER_USER }));
const pay = await timed(count, (i) => engine.pay(tokens[i % users]!, { reservationId: reserve.results[i]!.id }));
const stats = await engine.stats();
if (stats.paidSeats !== count) throw new Error(`expected ${count} paid seats, got ${stats.paidSeats}`);
await engine.close();
opened.cleanup();

process.stdout.write(
  `${JSON.stringify({
    store: storeKind,
    commands: { issue: users, reserve: count, charge: users, pay: count },
    opsPerSecond: { issue: issue.opsPerSecond, reserve: reserve.opsPerSecond, charge: charge.opsPerSecond, pay: pay.opsPerSecond },
  })}\n`,
);
