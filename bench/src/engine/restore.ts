/**
 * Time and memory to restore a large state at start.
 *
 * `node restore.js build <dir> <tokens> <seats>`: an engine on a lowdb store in
 * `dir` gets `seats` seats (dates of 50,000) and `tokens` waiting tokens, then
 * compacts everything into one snapshot.
 * `node --expose-gc restore.js open <dir>`: a fresh process opens it and says
 * how long `createEngine` took and how much memory the state holds.
 */
import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { issueMany, stadiumCatalog } from './bigState.js';

const [mode, dir, tokensArg = '1000000', seatsArg = '1000000'] = process.argv.slice(2) as [
  string,
  string,
  string?,
  string?,
];
const config = {
  queueMaxActive: 1,
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  queueWaitingTtlMs: 86_400_000,
};

if (mode === 'build') {
  const tokens = Number(tokensArg);
  const seats = Number(seatsArg);
  const store = new LowdbStore(dir, { fsync: false });
  const engine = await createEngine({ store, config });
  await engine.loadCatalog(stadiumCatalog(seats));
  await issueMany(engine, tokens);
  await store.compact();
  await engine.close();
  const snapshot = readdirSync(dir).find((name) => name.startsWith('snapshot-'))!;
  process.stdout.write(
    `${JSON.stringify({ snapshotBytes: statSync(join(dir, snapshot)).size })}\n`,
  );
} else {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const started = performance.now();
  const engine = await createEngine({ store: new LowdbStore(dir), config });
  const restoreMs = Math.round(performance.now() - started);
  const stats = await engine.stats();
  const token = await engine.issueToken('late-comer');
  gc();
  const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
  await engine.close();
  process.stdout.write(
    `${JSON.stringify({ restoreMs, rssBytes: rss, heapBytes: heapUsed + arrayBuffers, waitingTokens: stats.waitingTokens, schedules: stats.schedules, lastPosition: token.token.position })}\n`,
  );
}
