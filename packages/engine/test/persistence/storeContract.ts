import test from 'ava';
import type { Change, Store, StoreContents } from '@usher/engine';

/**
 * One contract, every store: what the engine relies on from its `Store` port.
 * `open` returns a store over the same underlying data each time it is called
 * with the same `place` (a folder, or a shared memory store), as a restarted
 * process would.
 */
export function storeContract(
  name: string,
  fresh: () => Promise<{ open: () => Store; cleanup: () => Promise<void> }>,
): void {
  const wallet = (userId: string, balance: number) => ({
    userId,
    balance,
    charged: balance,
    paid: 0,
  });

  test(`${name}: a store never written to loads as null`, async (t) => {
    const { open, cleanup } = await fresh();
    const store = open();
    t.is(await store.load(), null);
    await store.close();
    await cleanup();
  });

  test(`${name}: appended changes are there after a reopen, in order, with deletes`, async (t) => {
    const { open, cleanup } = await fresh();
    const store = open();
    await store.load();
    await store.append([
      ['wallets', 'ann', wallet('ann', 1)],
      ['wallets', 'bob', wallet('bob', 2)],
    ]);
    await store.append([['wallets', 'ann', wallet('ann', 5)]]);
    await store.append([['wallets', 'bob', null]]);
    await store.close();
    const reopened = open();
    const contents = (await reopened.load()) as StoreContents;
    t.deepEqual([...contents.wallets], [['ann', wallet('ann', 5)]]);
    t.is(contents.tokens.size, 0);
    await reopened.close();
    await cleanup();
  });

  test(`${name}: append snapshots the changes before it returns`, async (t) => {
    const { open, cleanup } = await fresh();
    const store = open();
    await store.load();
    const record = wallet('ann', 1);
    const durable = store.append([['wallets', 'ann', record]]);
    record.balance = 999;
    await durable;
    await store.close();
    const reopened = open();
    t.is((await reopened.load())?.wallets.get('ann')?.balance, 1);
    await reopened.close();
    await cleanup();
  });

  test(`${name}: concurrent appends are all durable when their promises resolve, and flush waits for them`, async (t) => {
    const { open, cleanup } = await fresh();
    const store = open();
    await store.load();
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 2_000; i++)
      appends.push(store.append([['wallets', `u${i % 100}`, wallet(`u${i % 100}`, i)]]));
    await store.flush();
    await Promise.all(appends);
    await store.close();
    const reopened = open();
    const contents = (await reopened.load())!;
    t.is(contents.wallets.size, 100);
    for (let u = 0; u < 100; u++)
      t.is(contents.wallets.get(`u${u}`)?.balance, 1_900 + u, 'the last write of each key wins');
    await reopened.close();
    await cleanup();
  });

  test(`${name}: every collection round-trips`, async (t) => {
    const { open, cleanup } = await fresh();
    const store = open();
    await store.load();
    const changes: Change[] = [
      ['concerts', 'c', { id: 'c', title: 'T', artist: 'A' }],
      [
        'schedules',
        's',
        {
          id: 's',
          concertId: 'c',
          startsAt: '2027-01-01T00:00:00Z',
          totalSeats: 2,
          prices: [{ from: 1, to: 2, price: 5 }],
        },
      ],
      [
        'tokens',
        't',
        { token: 't', userId: 'u', status: 'active', seq: 3, issuedAt: 1, expiresAt: 2 },
      ],
      [
        'reservations',
        'r',
        {
          id: 'r',
          userId: 'u',
          scheduleId: 's',
          seatNo: 1,
          price: 5,
          status: 'paid',
          createdAt: 1,
          expiresAt: 2,
        },
      ],
      ['wallets', 'u', wallet('u', 0)],
      [
        'payments',
        'p',
        { id: 'p', reservationId: 'r', userId: 'u', amount: 5, balance: 0, createdAt: 1 },
      ],
      [
        'idempotency',
        '["u","k"]',
        { userId: 'u', key: 'k', fingerprint: 'f', result: { a: [1, 'b', null] }, createdAt: 1 },
      ],
      [
        'room',
        'room',
        {
          paused: true,
          admitPerTick: 3,
          maxActive: 9,
          opensAt: 1_800_000_000_000,
          shuffle: false,
          pendingOpening: true,
          soldOut: false,
          draw: { seed: 'ab'.repeat(32), from: 3, to: 9 },
        },
      ],
      ['counters', 'admittedTotal', { value: 42 }],
    ];
    await store.append(changes);
    await store.close();
    const reopened = open();
    const contents = (await reopened.load())!;
    for (const [collection, key, value] of changes)
      t.deepEqual(contents[collection].get(key), value, collection);
    await reopened.close();
    await cleanup();
  });
}
