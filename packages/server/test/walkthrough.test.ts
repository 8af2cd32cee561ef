import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { createDatabase, usePostgres } from '@usher/testkit';
import { onPath, testNeeding } from './helpers/prerequisites.js';
import { walkThrough } from './helpers/readme.js';
import { startServerProcess, type ServerProcess } from './helpers/serverProcess.js';

const run = promisify(execFile);
const postgres = usePostgres(test);
/** Both shells always: a missing one is a skipped test that says so, never a test left out. */
const shells = [
  { name: 'bash', command: 'bash', args: ['--norc', '--noprofile', '-c'] },
  { name: 'zsh', command: 'zsh', args: ['-f', '-c'] },
].map((shell) => ({
  ...shell,
  missing: onPath(shell.command)
    ? undefined
    : `${shell.command} is not installed (apt-get install ${shell.command})`,
}));

test('the walk-through pastes into zsh: no comment line (zsh without interactivecomments runs `#` as a command)', async (t) => {
  const lines = (await walkThrough()).split('\n');
  t.deepEqual(
    lines.filter((line) => /^\s*#/.test(line)),
    [],
  );
  t.false(
    lines.some((line) => line.includes('!')),
    'no `!`: interactive bash would expand it as history',
  );
});

/** The server as `pnpm start` runs it, and as a cluster over PostgreSQL: the walk-through is the same. */
const servers: {
  name: string;
  start: (t: import('ava').ExecutionContext) => Promise<ServerProcess>;
}[] = [
  {
    name: '',
    start: async (t) => {
      const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-walkthrough-'));
      t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
      return startServerProcess({ DATA_DIR });
    },
  },
  {
    name: ' against WORKERS=2 over PostgreSQL',
    start: async () =>
      startServerProcess({ DATABASE_URL: await createDatabase(postgres()), WORKERS: '2' }),
  },
];

for (const [shell, where] of shells
  .flatMap((shell) => servers.map((server) => [shell, server] as const))
  .filter(([shell, where]) => shell.name === 'bash' || where.name === '')) {
  const test = testNeeding(shell.missing);
  test(`the README's walk-through runs twice in ${shell.name}${where.name}: fresh keys, refusals shown, the replay marked, paid both times`, async (t) => {
    const server = await where.start(t);
    t.teardown(() => server.process.kill('SIGTERM'));
    const block = await walkThrough(server.url);
    const users = new Set<string>();
    for (const attempt of [1, 2]) {
      const { stdout, stderr } = await run(shell.command, [...shell.args, block], {
        timeout: 60_000,
      });
      const output = stdout + stderr;
      t.log(`${shell.name}, run ${attempt}:\n${output}`);
      t.notRegex(
        output,
        /command not found|not found|undefined|syntax error|parse error/i,
        `run ${attempt}`,
      );
      t.regex(
        output,
        /^  201 \{"token":"[^"]+","userId":"ann-\d+","status":"active"/m,
        `run ${attempt}: joined`,
      );
      t.regex(
        output,
        /^  201 \{"id":"[^"]+","userId":"ann-\d+","scheduleId":"iu-golden-hour-1","seatNo":\d+,/m,
        `run ${attempt}: held a seat`,
      );
      t.regex(
        output,
        /^  409 refused, INSUFFICIENT_BALANCE: Balance too low\. the price is \d+ and the balance 0$/m,
        `run ${attempt}: the refusal is shown`,
      );
      t.regex(
        output,
        /^  200 \{"userId":"ann-\d+","balance":300000\}\n  200 REPLAYED \(the first answer; nothing done now\) \{"userId":"ann-\d+","balance":300000\}$/m,
        `run ${attempt}: the replay says so`,
      );
      t.regex(
        output,
        /^  201 \{"id":"[^"]+","reservationId":"[^"]+","userId":"ann-\d+","amount":\d+,"balance":\d+/m,
        `run ${attempt}: paid`,
      );
      users.add(/as (ann-\d+)/.exec(output)?.[1] ?? '');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    t.is(users.size, 2, 'each run is a new user');
  });
}
