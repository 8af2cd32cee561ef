import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { LowdbStore } from '@usher/engine/lowdb';

const contenderScript = fileURLToPath(new URL('./processes/lockContender.ts', import.meta.url));

async function folder(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Contender {
  readonly process: ChildProcess;
  ask(message: object): Promise<Record<string, unknown>>;
}

async function contender(): Promise<Contender> {
  const child = fork(contenderScript, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies: ((reply: Record<string, unknown>) => void)[] = [];
  child.on('message', (reply: Record<string, unknown>) => replies.shift()?.(reply));
  await new Promise((resolve) => replies.push(resolve));
  return {
    process: child,
    ask: (message) =>
      new Promise((resolve) => {
        replies.push(resolve);
        child.send(message);
      }),
  };
}

test('processes racing to open one folder: exactly one wins, every time (fresh folders and stale lock files)', async (t) => {
  const contenders = await Promise.all(Array.from({ length: 4 }, () => contender()));
  t.teardown(() => contenders.forEach((c) => c.process.kill('SIGKILL')));
  const rounds = 40;
  for (let round = 0; round < rounds; round++) {
    const dir = await folder(t);
    // Half the rounds start from what a crash leaves: a lock file naming a process that is gone.
    if (round % 2 === 1) await writeFile(join(dir, 'usher.lock'), '999999999');
    const answers = await Promise.all(contenders.map((c) => c.ask({ open: dir })));
    const winners = contenders.filter((_, i) => answers[i]!.opened === true);
    t.is(winners.length, 1, `round ${round}: ${JSON.stringify(answers)}`);
    for (const [i, answer] of answers.entries()) {
      if (answer.opened !== true)
        t.regex(
          String(answer.error),
          /in use by another process/,
          `round ${round}, contender ${i}`,
        );
    }
    await Promise.all(winners.map((c) => c.ask({ close: true })));
  }
});

test('a SIGKILLed owner leaves the folder free: the next process opens it and nothing acknowledged is lost', async (t) => {
  const dir = await folder(t);
  const first = await contender();
  t.true((await first.ask({ open: dir })).opened);
  await first.ask({ append: 'ann' });
  const second = await contender();
  t.teardown(() => second.process.kill('SIGKILL'));
  t.false((await second.ask({ open: dir })).opened, 'refused while the owner lives');
  const gone = new Promise((resolve) => first.process.once('exit', resolve));
  first.process.kill('SIGKILL');
  await gone;
  t.true((await second.ask({ open: dir })).opened, 'the kernel released the lock with the process');
  await second.ask({ close: true });
  const store = new LowdbStore(dir);
  const contents = await store.load();
  await store.close();
  t.deepEqual([...contents!.wallets.keys()], ['ann']);
});

test('a lock file naming a live process (pid reuse, PID 1, or this very process) does not block a start', async (t) => {
  for (const pid of [1, process.pid, process.ppid]) {
    const dir = await folder(t);
    await writeFile(join(dir, 'usher.lock'), String(pid));
    const store = new LowdbStore(dir);
    await t.notThrowsAsync(store.load(), `a lock file that says ${pid}`);
    t.is(
      (await readFile(join(dir, 'usher.lock'), 'utf8')).trim(),
      String(process.pid),
      'the lock file names its owner, for people',
    );
    await store.close();
  }
});

test('one store per folder within a process too; closing releases the lock but keeps the lock file', async (t) => {
  const dir = await folder(t);
  const first = new LowdbStore(dir);
  await first.load();
  await t.throwsAsync(new LowdbStore(dir).load(), { message: /already open in this process/ });
  await first.close();
  t.true(
    (await readdir(dir)).includes('usher.lock'),
    'the lock file stays: deleting it would let two processes lock two different files',
  );
  const second = new LowdbStore(dir);
  await t.notThrowsAsync(second.load());
  await second.close();
});

test('a refused open touches nothing in the folder', async (t) => {
  const dir = await folder(t);
  const owner = new LowdbStore(dir);
  await owner.load();
  await owner.append([['wallets', 'ann', { userId: 'ann', balance: 1, charged: 1, paid: 0 }]]);
  await writeFile(
    join(dir, '.snapshot-0000000000000009.json.tmp'),
    'a temp file a compaction may be writing',
  );
  const before = (await readdir(dir)).sort();
  const lockBefore = await readFile(join(dir, 'usher.lock'), 'utf8');
  await t.throwsAsync(new LowdbStore(dir).load());
  t.deepEqual((await readdir(dir)).sort(), before);
  t.is(await readFile(join(dir, 'usher.lock'), 'utf8'), lockBefore);
  await owner.close();
});
