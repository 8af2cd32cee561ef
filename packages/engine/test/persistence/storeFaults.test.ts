import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { LowdbStore, StoreCorruptedError } from '@usher/engine/lowdb';

const fillDisk = fileURLToPath(new URL('./processes/fillDisk.ts', import.meta.url));

async function folder(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-faults-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const put = (key: string, balance = 1) =>
  [['wallets', key, { userId: key, balance, charged: balance, paid: 0 }]] as const;

async function wallets(dir: string): Promise<number> {
  const store = new LowdbStore(dir, { onWarning: () => undefined });
  const contents = await store.load();
  await store.close();
  return contents?.wallets.size ?? 0;
}

test('a write that fails half way (a full disk) leaves none of its records behind: a refused command is never replayed', async (t) => {
  const dir = await folder(t);
  // A 64 KiB file-size limit: the journal fills up after ~800 records, in the middle of a group.
  const child = spawn(
    'bash',
    ['-c', 'ulimit -f 64; exec "$@"', 'bash', process.execPath, ...process.execArgv, fillDisk, dir],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  const { acknowledged, refused } = JSON.parse(output) as { acknowledged: number; refused: number };
  t.true(refused > 0, 'the disk filled up');
  t.true(acknowledged > 0);
  t.is(
    await wallets(dir),
    acknowledged,
    `exactly the ${acknowledged} acknowledged records are there, none of the ${refused} refused`,
  );
});

test('a second store cannot open a folder whose lock file was deleted while the owner runs: the owner also locks its journal', async (t) => {
  const dir = await folder(t);
  const owner = new LowdbStore(dir);
  await owner.load();
  await owner.append([...put('ann')]);
  await unlink(join(dir, 'usher.lock'));
  const before = (await readdir(dir)).sort();
  await t.throwsAsync(new LowdbStore(dir, { onWarning: () => undefined }).load(), {
    message: /in use by another process/,
  });
  t.deepEqual(
    (await readdir(dir)).filter((name) => name !== 'usher.lock').sort(),
    before,
    'the refused store changed nothing',
  );
  await owner.append([...put('bob')]);
  await owner.close();
  t.is(await wallets(dir), 2);
});

test('a snapshot whose number disagrees with its name, or whose body fails its checksum, refuses to open', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  await store.load();
  for (let i = 0; i < 5; i++) await store.append([...put(`u${i}`, i + 1)]);
  await store.compact();
  await store.append([...put('late')]);
  await store.close();
  const path = join(dir, 'snapshot-0000000000000005.json');
  const original = await readFile(path, 'utf8');
  await writeFile(path, original.replace('"seq":5', '"seq":9'));
  await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
    message: /up to 9, but it is named for record 5/,
  });
  await writeFile(path, original.replace('"balance":3', '"balance":4'));
  await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
    message: /checksum/,
  });
  await writeFile(
    path,
    original
      .split('\n')
      .filter((line) => !line.includes('"u2"'))
      .join('\n'),
  );
  await t.throwsAsync(new LowdbStore(dir).load(), {
    instanceOf: StoreCorruptedError,
    message: /checksum/,
  });
  await writeFile(path, original);
  t.is(await wallets(dir), 6, 'the untouched snapshot opens');
});

test('a snapshot that is abandoned before it is published leaves no file behind', async (t) => {
  const dir = await folder(t);
  const { writeSnapshot } = await import('../../src/persistence/lowdb/snapshot.js');
  const { emptyContents } = await import('@usher/engine');
  const contents = emptyContents();
  contents.wallets.set('ann', { userId: 'ann', balance: 1, charged: 1, paid: 0 });
  // A compaction stops just before the rename (its server died, or the disk filled up): the partial file goes too.
  await t.throwsAsync(
    writeSnapshot(dir, 1, contents, () => {
      throw new Error('abandoned');
    }),
    { message: 'abandoned' },
  );
  t.deepEqual(await readdir(dir), []);
});

test('a refused open renames nothing: a damaged snapshot is set aside only when the folder opens', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  await store.load();
  await store.append([...put('ann')]);
  await store.compact();
  await store.append([...put('bob')]);
  await store.close();
  // Keep what a compaction interrupted before its deletions would have left: the older snapshot and the segment after it.
  const keep = new Map<string, string>();
  for (const name of await readdir(dir))
    if (/^(snapshot|journal)-/.test(name)) keep.set(name, await readFile(join(dir, name), 'utf8'));
  const again = new LowdbStore(dir);
  await again.load();
  await again.compact();
  await again.append([...put('cy')]);
  await again.close();
  for (const [name, text] of keep) await writeFile(join(dir, name), text);
  // The newest snapshot is garbage (the older one and the journal could stand in for it), but the newest
  // segment lost an acknowledged record as well: the folder is refused, and left exactly as it was.
  const newest = (await readdir(dir))
    .filter((name) => name.startsWith('snapshot-'))
    .sort()
    .at(-1)!;
  await writeFile(join(dir, newest), '\0\0\0\0');
  const segment = (await readdir(dir))
    .filter((name) => name.startsWith('journal-'))
    .sort()
    .at(-1)!;
  await writeFile(join(dir, segment), '');
  const before = (await readdir(dir)).sort();
  await t.throwsAsync(new LowdbStore(dir, { onWarning: () => undefined }).load(), {
    instanceOf: StoreCorruptedError,
    message: /acknowledged/,
  });
  t.deepEqual((await readdir(dir)).sort(), before);
});
