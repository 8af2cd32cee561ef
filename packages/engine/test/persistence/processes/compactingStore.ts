/**
 * Opens a LowdbStore in argv[2], writes some records and starts a compaction,
 * then prints `compacting` and waits to be killed: for the test of a
 * compaction child that outlives its parent.
 */
import { LowdbStore } from '@usher/engine/lowdb';

const store = new LowdbStore(process.argv[2]!);
await store.load();
for (let i = 0; i < 100; i++)
  await store.append([['wallets', `u${i}`, { userId: `u${i}`, balance: i, charged: i, paid: 0 }]]);
void store.compact().catch(() => undefined);
process.stdout.write('compacting\n');
setInterval(() => undefined, 60_000);
