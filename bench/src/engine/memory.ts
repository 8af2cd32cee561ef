/**
 * Heap and RSS of one engine holding N waiting tokens or N seats, measured in
 * this process after a full GC and against the same engine empty. Run it in a
 * fresh process per scenario (`run.ts` does): `node --expose-gc memory.js tokens 1000000`.
 */
import { createEngine } from '@usher/engine';
import { issueMany, stadiumCatalog } from './bigState.js';
import { DiscardStore } from './stores.js';

const [kind = 'tokens', countArg = '1000000'] = process.argv.slice(2);
const count = Number(countArg);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function measure() {
  gc!();
  gc!();
  const { heapUsed, arrayBuffers, rss } = process.memoryUsage();
  // Seat states live in typed arrays, outside the V8 heap: count both.
  return { heapUsed: heapUsed + arrayBuffers, rss };
}

const engine = await createEngine({
  store: new DiscardStore(),
  config: {
    queueMaxActive: 1,
    queueTickMs: 86_400_000,
    holdSweepMs: 86_400_000,
    queueWaitingTtlMs: 86_400_000,
  },
});
const before = measure();
const started = performance.now();
if (kind === 'tokens') await issueMany(engine, count);
else await engine.loadCatalog(stadiumCatalog(count));
const elapsedMs = performance.now() - started;
const after = measure();
const stats = await engine.stats();
const result = {
  kind,
  count,
  buildMs: Math.round(elapsedMs),
  heapAndBuffersBytes: after.heapUsed - before.heapUsed,
  rssBytes: after.rss,
  bytesPerEntity: Math.round(((after.heapUsed - before.heapUsed) / count) * 10) / 10,
  waitingTokens: stats.waitingTokens,
  seats: kind === 'seats' ? count : 0,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
await engine.close();
