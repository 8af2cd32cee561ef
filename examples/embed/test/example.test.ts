import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const run = (folder?: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  promisify(execFile)(
    process.execPath,
    [...process.execArgv, main, ...(folder === undefined ? [] : [folder])],
    { cwd: options.cwd, env: { ...process.env, ...options.env } },
  );

test('the embed example runs two people to a paid seat each, and a second run finds the first run on disk', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'usher-embed-test-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const first = await run(folder);
  t.regex(first.stdout, /bob +token waiting, number 1 in line/);
  t.regex(first.stdout, /bob +refused: TOKEN_NOT_ACTIVE/);
  t.regex(first.stdout, /ann +paid 150000; 50000 left in the wallet/);
  t.regex(first.stdout, /ann +retried with the same key: the same payment, not a second one/);
  t.regex(first.stdout, /bob +token active/);
  t.regex(first.stdout, /bob +seat 1: SEAT_UNAVAILABLE/);
  t.regex(first.stdout, /engine 2 seats sold, 2 payments; closing/);
  const second = await run(folder);
  t.regex(second.stdout, /catalog: 0 concert and 0 date added/, 'the catalog was kept');
  t.regex(
    second.stdout,
    /engine 4 seats sold, 4 payments/,
    'the first run’s sales are still there',
  );
});

test('without a folder the example leaves no temp folder behind', async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'usher-embed-tmp-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const { stdout } = await run(undefined, { env: { TMPDIR: tmp } });
  t.regex(stdout, /engine 2 seats sold, 2 payments; closing/);
  t.regex(stdout, /engine closed; .*usher-embed-.* removed/);
  t.deepEqual(
    (await readdir(tmp)).filter((name) => name.startsWith('usher-embed-')),
    [],
    'the temp folder is gone',
  );
});

test('a relative folder is relative to where the command was run (INIT_CWD), not to the example', async (t) => {
  const here = await mkdtemp(join(tmpdir(), 'usher-embed-cwd-'));
  t.teardown(() => rm(here, { recursive: true, force: true }));
  // pnpm and npm run the script in the package's folder and set INIT_CWD to where the command was typed.
  const { stdout } = await run('./my-data', {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { INIT_CWD: here },
  });
  t.regex(stdout, /the data stays in .*usher-embed-cwd-.*my-data/);
  t.deepEqual(await readdir(here), ['my-data']);
  t.true((await readdir(join(here, 'my-data'))).length > 0);
});
