/// <reference path="../../src/persistence/lowdb/fs-native-extensions.d.ts" />
import { spawn } from 'node:child_process';
import { open, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { tryLock } from 'fs-native-extensions';
import { LowdbStore } from '@usher/engine/lowdb';

const compactingStore = fileURLToPath(new URL('./processes/compactingStore.ts', import.meta.url));

async function folder(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-compaction-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Holds the folder's compaction lock, as a running compaction does. */
async function holdCompactionLock(dir: string): Promise<() => Promise<void>> {
  const handle = await open(join(dir, 'compaction.lock'), 'a+');
  if (!tryLock(handle.fd)) throw new Error('the compaction lock is taken');
  return () => handle.close();
}

/** Live (not zombie) processes whose parent is `ppid`, with their command lines. */
async function childrenOf(ppid: number): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === ppid && fields[0] !== 'Z') {
      found.push({
        pid: Number(name),
        cmdline: (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).replaceAll(
          '\0',
          ' ',
        ),
      });
    }
  }
  return found;
}

/** Whether `pid` has `path` open. */
async function hasOpen(pid: number, path: string): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
  );
  return targets.includes(path);
}

async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a compaction child whose server is SIGKILLed exits without writing anything', async (t) => {
  const dir = await folder(t);
  // Another compaction owns the folder's compaction for now: the child must wait for it.
  const release = await holdCompactionLock(dir);
  const server = spawn(process.execPath, [...process.execArgv, compactingStore, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const serverGone = new Promise((resolve) => server.once('exit', resolve));
  t.teardown(() => server.kill('SIGKILL'));
  for await (const line of createInterface({ input: server.stdout }))
    if (line === 'compacting') break;
  const child = await until(
    async () =>
      (await childrenOf(server.pid!)).find((p) => p.cmdline.includes('compactionProcess')),
    'the compaction child',
  );
  // It has its work and waits for its turn: the compaction lock, which this test holds.
  await until(
    async () => ((await hasOpen(child.pid, join(dir, 'compaction.lock'))) ? true : undefined),
    'the compaction child to ask for the compaction lock',
  );
  server.kill('SIGKILL');
  await serverGone;
  await until(
    async () => ((await isRunning(child.pid)) ? undefined : true),
    'the orphaned compaction child to exit',
  );
  await release();
  const files = await readdir(dir);
  t.deepEqual(
    files.filter((name) => name.includes('snapshot')),
    [],
    'the orphan wrote no snapshot, not even a temp file',
  );
  const store = new LowdbStore(dir);
  t.is(
    (await store.load())?.wallets.size,
    100,
    'the next server opens everything from the journal',
  );
  await store.close();
});

test('opening a store leaves alone the temp files of a compaction that is still running, and removes them once it is not', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  await store.load();
  await store.append([['wallets', 'ann', { userId: 'ann', balance: 1, charged: 1, paid: 0 }]]);
  await store.close();
  const temp = '.snapshot-0000000000000001.json.x1y2z3.partial.tmp';
  const legacyTemp = '.snapshot-0000000000000001.json.tmp';
  await writeFile(join(dir, temp), 'half a snapshot');
  await writeFile(join(dir, legacyTemp), 'half a snapshot');
  const release = await holdCompactionLock(dir);
  const reopened = new LowdbStore(dir);
  await reopened.load();
  await reopened.close();
  t.true((await readdir(dir)).includes(temp), 'a live compaction still owns its temp file');
  t.true((await readdir(dir)).includes(legacyTemp));
  await release();
  const again = new LowdbStore(dir);
  await again.load();
  await again.close();
  t.false((await readdir(dir)).includes(temp), 'with no compaction running, leftovers are removed');
  t.false((await readdir(dir)).includes(legacyTemp));
});

test('compactions write through unique temp names and leave exactly one snapshot', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir);
  await store.load();
  for (let i = 0; i < 20; i++)
    await store.append([
      ['wallets', `u${i}`, { userId: `u${i}`, balance: i, charged: i, paid: 0 }],
    ]);
  await Promise.all([store.compact(), store.compact()]);
  await store.close();
  t.deepEqual(
    (await readdir(dir)).filter((name) => name.includes('snapshot')),
    ['snapshot-0000000000000020.json'],
  );
});
