import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DataFile } from 'lowdb/node';
import type { Change, WalletRecord } from '@usher/engine';
import { LowdbStore, StoreCorruptedError } from '@usher/engine/lowdb';

const wallet = (userId: string, balance: number): WalletRecord => ({
  userId,
  balance,
  charged: balance,
  paid: 0,
});
const put = (userId: string, balance: number): Change[] => [
  ['wallets', userId, wallet(userId, balance)],
];

async function folder(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-lowdb-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeSome(dir: string, count: number, options = {}): Promise<void> {
  const store = new LowdbStore(dir, options);
  await store.load();
  await Promise.all(Array.from({ length: count }, (_, i) => store.append(put(`u${i}`, i))));
  await store.close();
}

async function balances(dir: string, warnings: string[] = []): Promise<number[]> {
  const store = new LowdbStore(dir, { onWarning: (message) => warnings.push(message) });
  const contents = await store.load();
  await store.close();
  return [...(contents?.wallets.values() ?? [])].map((w) => w.balance);
}

test('compaction folds the journal into one lowdb snapshot and removes what it replaced', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  await store.load();
  for (let i = 0; i < 50; i++) await store.append(put(`u${i % 10}`, i));
  await store.compact();
  await store.append(put('late', 1));
  await store.close();
  const files = (await readdir(dir)).filter((name) => /^(journal|snapshot)-/.test(name)).sort();
  t.deepEqual(files, ['journal-0000000000000051.ndjson', 'snapshot-0000000000000050.json']);
  const snapshot = await new DataFile<{
    format: string;
    seq: number;
    collections: { wallets: [string, WalletRecord][] };
  }>(join(dir, files[1]!), {
    parse: JSON.parse,
    stringify: JSON.stringify,
  }).read();
  t.is(snapshot?.format, 'usher-snapshot/2', 'format 2: with a checksum of its records');
  t.is(snapshot?.seq, 50);
  t.is(snapshot?.collections.wallets.length, 10);
  t.deepEqual(
    (await balances(dir)).sort((a, b) => a - b),
    [1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49],
  );
});

test('segments rotate by size and are compacted in the background while appends go on', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir, { segmentBytes: 4_096 });
  await store.load();
  for (let round = 0; round < 20; round++) {
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => store.append(put(`u${i}`, round * 100 + i))),
    );
  }
  await store.whenCompacted();
  await store.close();
  const files = await readdir(dir);
  t.true(
    files.some((name) => name.startsWith('snapshot-')),
    'a snapshot was written',
  );
  t.true(
    files.filter((name) => name.startsWith('journal-')).length < 40,
    'compacted segments were removed',
  );
  t.deepEqual(
    (await balances(dir)).sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => 1_900 + i),
  );
});

test('a torn last record (a crash mid-write) is cut off and everything before it recovers', async (t) => {
  const dir = await folder(t);
  await writeSome(dir, 3);
  const [segment] = (await readdir(dir)).filter((name) => name.startsWith('journal-'));
  await appendFile(join(dir, segment!), '1234abcd {"seq":4,"changes":[["wallets","x",{"us');
  const warnings: string[] = [];
  t.deepEqual((await balances(dir, warnings)).sort(), [0, 1, 2]);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /unfinished last record/);
  t.true((await readFile(join(dir, segment!), 'utf8')).endsWith('\n'), 'the torn bytes were cut');
  const store = new LowdbStore(dir);
  await store.load();
  await store.append(put('after', 7));
  await store.close();
  t.deepEqual((await balances(dir)).sort(), [0, 1, 2, 7], 'appending after a repair works');
});

test('damage before the end of the journal refuses to open, naming file and line', async (t) => {
  const dir = await folder(t);
  await writeSome(dir, 5);
  const [segment] = (await readdir(dir)).filter((name) => name.startsWith('journal-'));
  const path = join(dir, segment!);
  const lines = (await readFile(path, 'utf8')).split('\n');
  lines[2] = lines[2]!.replace('"balance":', '"balance":1');
  await writeFile(path, lines.join('\n'));
  const error = await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
  });
  t.is(error?.line, 3);
  t.is(error?.file, path);
  t.regex(error!.message, /damaged/);
});

test('a gap in the journal refuses to open', async (t) => {
  const dir = await folder(t);
  await writeSome(dir, 5);
  const [segment] = (await readdir(dir)).filter((name) => name.startsWith('journal-'));
  const path = join(dir, segment!);
  const lines = (await readFile(path, 'utf8')).split('\n');
  lines.splice(1, 1);
  await writeFile(path, lines.join('\n'));
  await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
    message: /record 2 is missing/,
  });
});

test('a damaged snapshot with nothing to fall back on refuses to open; it never loads as empty', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  await store.load();
  await store.append(put('ann', 5));
  await store.compact();
  await store.close();
  const [snapshot] = (await readdir(dir)).filter((name) => name.startsWith('snapshot-'));
  const path = join(dir, snapshot!);
  await writeFile(path, (await readFile(path, 'utf8')).slice(0, 40));
  await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
    message: /not valid JSON/,
  });
  await writeFile(path, '{"format":"something-else"}');
  await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
    message: /not a usher-snapshot/,
  });
});

test('a damaged newest snapshot falls back to the previous one when the journal still covers the rest', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  await store.load();
  await store.append(put('ann', 1));
  await store.compact();
  await store.append(put('bob', 2));
  await store.close();
  // As if power failed after the newest snapshot was renamed into place but before it reached the disk:
  // it is garbage, and the files it would replace are all still there.
  await writeFile(join(dir, 'snapshot-0000000000000002.json'), '\0\0\0\0');
  const warnings: string[] = [];
  t.deepEqual((await balances(dir, warnings)).sort(), [1, 2]);
  t.regex(warnings[0]!, /damaged.*recovering from/);
  t.true((await readdir(dir)).includes('snapshot-0000000000000002.json.damaged'));
});

test('a journal that starts after what any snapshot covers refuses to open', async (t) => {
  const dir = await folder(t);
  await writeSome(dir, 1);
  await writeFile(join(dir, 'journal-0000000000000009.ndjson'), '');
  const [first] = (await readdir(dir)).filter((name) => name === 'journal-0000000000000001.ndjson');
  await rm(join(dir, first!));
  await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
    message: /no snapshot covers/,
  });
});

test('without fsync, acknowledged appends still reach the file (they survive a process crash)', async (t) => {
  const dir = await folder(t);
  await writeSome(dir, 10, { fsync: false });
  t.is((await balances(dir)).length, 10);
});

test('a store that is not open refuses to append', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  t.throws(() => store.append(put('ann', 1)), { message: /not open/ });
  await store.load();
  await store.close();
  t.throws(() => store.append(put('ann', 1)), { message: /not open/ });
});
