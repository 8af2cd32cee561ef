import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
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
  const dir = await mkdtemp(join(tmpdir(), 'usher-damage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Ten acknowledged records, then a clean close. */
async function tenRecords(dir: string): Promise<string> {
  const store = new LowdbStore(dir);
  await store.load();
  for (let i = 0; i < 10; i++) await store.append(put(`u${i}`, i));
  await store.close();
  return join(
    dir,
    (await readdir(dir)).find((name) => name.startsWith('journal-'))!,
  );
}

async function refused(
  t: import('ava').ExecutionContext,
  dir: string,
  message: RegExp,
): Promise<StoreCorruptedError> {
  const error = await t.throwsAsync(new LowdbStore(dir, { onWarning: () => undefined }).load(), {
    instanceOf: StoreCorruptedError,
    message,
  });
  return error!;
}

async function walletsIn(dir: string, warnings: string[] = []): Promise<string[]> {
  const store = new LowdbStore(dir, { onWarning: (message) => warnings.push(message) });
  const contents = await store.load();
  await store.close();
  return [...(contents?.wallets.keys() ?? [])];
}

test('a flipped byte in the last complete record is damage, not a torn tail: it was acknowledged', async (t) => {
  const dir = await folder(t);
  const journal = await tenRecords(dir);
  const lines = (await readFile(journal, 'utf8')).split('\n');
  lines[9] = lines[9]!.replace('"balance":9', '"balance":8');
  await writeFile(journal, lines.join('\n'));
  const error = await refused(t, dir, /fails its checksum/);
  t.is(error.line, 10);
  t.is(error.file, journal);
  t.is((await readFile(journal, 'utf8')).split('\n').length, 11, 'nothing was cut');
});

test('a journal truncated below what was acknowledged refuses to open (60%, and at a line boundary)', async (t) => {
  const dir = await folder(t);
  const journal = await tenRecords(dir);
  const bytes = (await readFile(journal)).length;
  await truncate(journal, Math.floor(bytes * 0.6));
  await refused(t, dir, /records up to 10 were acknowledged.*ends at record [0-9]\b/);
  const lines = (await readFile(journal, 'utf8')).split('\n');
  await writeFile(journal, lines.slice(0, 3).join('\n') + '\n');
  await refused(t, dir, /records up to 10 were acknowledged.*ends at record 3\b/);
});

test('a journal truncated to nothing, or deleted, refuses to open: never opened as a new, empty store', async (t) => {
  const dir = await folder(t);
  const journal = await tenRecords(dir);
  await truncate(journal, 0);
  await refused(t, dir, /records up to 10 were acknowledged/);
  await rm(journal);
  await refused(t, dir, /records up to 10 were acknowledged/);
  t.deepEqual(
    (await readdir(dir)).filter((name) => name.startsWith('journal-')),
    [],
    'no new journal was started',
  );
});

test('records whose sequence number repeats or goes back refuse to open, naming file and line', async (t) => {
  const dir = await folder(t);
  const journal = await tenRecords(dir);
  const lines = (await readFile(journal, 'utf8')).split('\n');
  // Two writers once interleaved their records: the same numbers twice.
  await writeFile(
    journal,
    [...lines.slice(0, 5), lines[3], lines[4], ...lines.slice(5)].join('\n'),
  );
  const repeated = await refused(t, dir, /record 4 after record 5/);
  t.is(repeated.line, 6);
  t.is(repeated.file, journal);
  const swapped = [...lines];
  [swapped[6], swapped[7]] = [swapped[7]!, swapped[6]!];
  await writeFile(journal, swapped.join('\n'));
  const error = await refused(t, dir, /record 8 after record 6|record 7 is missing/);
  t.is(error.line, 7);
});

test('only an unfinished last line is a torn tail: it is cut, with a warning, and the rest opens', async (t) => {
  const dir = await folder(t);
  const journal = await tenRecords(dir);
  await appendFile(journal, '1234abcd {"seq":11,"changes":[["wallets","x",{"us');
  const warnings: string[] = [];
  t.is((await walletsIn(dir, warnings)).length, 10);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /cut an unfinished last record/);
  t.true((await readFile(journal, 'utf8')).endsWith('\n'));
});

test('a folder with data but no checkpoint (an older version) opens with a warning and gets one', async (t) => {
  const dir = await folder(t);
  const journal = await tenRecords(dir);
  await rm(join(dir, 'checkpoint'));
  const warnings: string[] = [];
  t.is((await walletsIn(dir, warnings)).length, 10);
  t.regex(warnings.join('\n'), /no checkpoint/);
  await truncate(journal, 0);
  await refused(t, dir, /records up to 10 were acknowledged/);
});

test('the checkpoint follows acknowledged records while the store is open, not only at close', async (t) => {
  const dir = await folder(t);
  const store = new LowdbStore(dir, { checkpointMs: 10 });
  await store.load();
  for (let i = 0; i < 5; i++) await store.append(put(`u${i}`, i));
  await store.whenCheckpointed();
  const checkpoint = await readFile(join(dir, 'checkpoint'), 'utf8');
  t.regex(checkpoint, /"seq":5\b/);
  await store.close();
});
