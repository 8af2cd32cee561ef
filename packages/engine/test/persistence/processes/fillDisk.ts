/**
 * Appends records to a LowdbStore in argv[2], 50 at a time, until a write
 * fails (run it under `ulimit -f`), then prints how many were acknowledged
 * and exits: for the test that a refused write is never replayed.
 */
import { LowdbStore } from '@usher/engine/lowdb';

const store = new LowdbStore(process.argv[2]!, { onWarning: () => undefined });
await store.load();
let acknowledged = 0;
let refused = 0;
for (let batch = 0; refused === 0 && batch < 10_000; batch++) {
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, (_, i) => {
      const key = `u${batch * 50 + i}`;
      return store.append([['wallets', key, { userId: key, balance: 1, charged: 1, paid: 0 }]]);
    }),
  );
  for (const result of results) result.status === 'fulfilled' ? acknowledged++ : refused++;
}
process.stdout.write(`${JSON.stringify({ acknowledged, refused })}\n`);
await store.close().catch(() => undefined);
