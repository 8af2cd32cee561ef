import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { runServerProcess, startServerProcess } from './helpers/serverProcess.js';

/** A temp folder, and inside it a DATA_DIR that does not exist yet. */
async function folders(t: ExecutionContext): Promise<{ root: string; DATA_DIR: string }> {
  const root = await mkdtemp(join(tmpdir(), 'usher-startup-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return { root, DATA_DIR: join(root, 'data') };
}

/** A failed start: exit 1, no fatal JSON log, one plain sentence (no JSON, no stack) on stderr matching `sentence`. */
function failedPlainly(
  t: ExecutionContext,
  run: { code: number | null; stdout: string; stderr: string },
  sentence: RegExp,
): void {
  t.is(run.code, 1);
  t.notRegex(run.stdout, /"level":(50|60)/, 'the failure is not a JSON log line');
  t.regex(run.stderr, /^usher cannot start: [^\n]+\n$/, 'one line');
  t.regex(run.stderr, sentence);
  t.notRegex(run.stderr, /^\s+at /m, 'no stack');
}

test('LOG_LEVEL=verbose stops the start with one sentence naming LOG_LEVEL (not a logger stack)', async (t) => {
  const { DATA_DIR } = await folders(t);
  failedPlainly(
    t,
    await runServerProcess({ DATA_DIR, LOG_LEVEL: 'verbose' }),
    /bad environment: LOG_LEVEL: /,
  );
  t.false(existsSync(DATA_DIR));
});

test('an empty PORT is refused, not read as "any port"', async (t) => {
  const { DATA_DIR } = await folders(t);
  failedPlainly(t, await runServerProcess({ DATA_DIR, PORT: '' }), /PORT: must be a whole number/);
  t.false(existsSync(DATA_DIR));
});

test('a port in use stops the start with one sentence naming PORT, and DATA_DIR is left as it was', async (t) => {
  const { DATA_DIR } = await folders(t);
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  failedPlainly(
    t,
    await runServerProcess({ DATA_DIR, PORT: String(port) }),
    new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*set PORT`),
  );
  t.false(existsSync(DATA_DIR), 'no catalog, no lock: the folder was never made');
});

test('a HOST that is not this machine’s stops the start with one sentence naming HOST, and DATA_DIR is left as it was', async (t) => {
  const { DATA_DIR } = await folders(t);
  // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
  failedPlainly(
    t,
    await runServerProcess({ DATA_DIR, HOST: '192.0.2.1', ALLOW_PUBLIC_DEMO: 'true' }),
    /HOST 192\.0\.2\.1 is not an address of this machine/,
  );
  t.false(existsSync(DATA_DIR));
});

test('a CATALOG that cannot be read, is not JSON or is not a catalog stops the start naming CATALOG, before DATA_DIR is touched', async (t) => {
  const { root, DATA_DIR } = await folders(t);
  const missing = join(root, 'missing.json');
  failedPlainly(
    t,
    await runServerProcess({ DATA_DIR, CATALOG: missing }),
    new RegExp(`CATALOG ${missing} cannot be read \\(ENOENT\\)`),
  );
  const notJson = join(root, 'catalog.txt');
  await writeFile(notJson, 'concerts: none');
  failedPlainly(
    t,
    await runServerProcess({ DATA_DIR, CATALOG: notJson }),
    /CATALOG .*catalog\.txt is not JSON/,
  );
  const wrong = join(root, 'wrong.json');
  await writeFile(
    wrong,
    JSON.stringify({
      concerts: [],
      schedules: [
        { id: 's', concertId: 'nope', startsAt: '2027-01-01T20:00:00Z', totalSeats: 1, price: 1 },
      ],
    }),
  );
  failedPlainly(
    t,
    await runServerProcess({ DATA_DIR, CATALOG: wrong }),
    /CATALOG .*wrong\.json is not a valid catalog: schedule "s" names unknown concert "nope"/,
  );
  t.false(existsSync(DATA_DIR));
});

test('a look-alike variable (HOLD_TTL) and a CATALOG ignored because DATA_DIR has data are warnings naming them', async (t) => {
  const { root, DATA_DIR } = await folders(t);
  const first = await startServerProcess({ DATA_DIR, HOLD_TTL: '1000' });
  t.teardown(() => first.process.kill('SIGKILL'));
  t.true(
    first.logs.some(
      (entry) =>
        entry.level === 40 &&
        /^HOLD_TTL is not a setting of usher.*HOLD_TTL_MS/.test(String(entry.msg)),
    ),
    JSON.stringify(first.logs),
  );
  first.process.kill('SIGTERM');
  t.deepEqual(await first.exited, { code: 0, signal: null }, first.stderr());

  const CATALOG = join(root, 'other.json');
  await writeFile(
    CATALOG,
    JSON.stringify({ concerts: [{ id: 'solo', title: 'Solo Night' }], schedules: [] }),
  );
  const second = await startServerProcess({ DATA_DIR, CATALOG });
  t.teardown(() => second.process.kill('SIGKILL'));
  const warning = second.logs.find((entry) => entry.level === 40);
  t.regex(
    String(warning?.msg),
    new RegExp(`CATALOG ${CATALOG} is not loaded: DATA_DIR ${DATA_DIR} already holds a catalog`),
  );
});

test('`pnpm start`, then Ctrl-C (SIGINT to the whole process group): the server stops cleanly and pnpm exits 0, no ELIFECYCLE', async (t) => {
  const { DATA_DIR } = await folders(t);
  const pnpm = await pnpmCli();
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  // Its own process group, as a terminal's foreground job: pnpm, its shell, the server.
  const child = spawn(process.execPath, [pnpm, 'start'], {
    cwd: root,
    detached: true,
    env: { ...process.env, PORT: '0', DATA_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  const deadline = Date.now() + 90_000;
  while (!output.includes('usher listening on')) {
    if (Date.now() > deadline || child.exitCode !== null) t.fail(`did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(-child.pid!, 'SIGINT');
  const [code, signal] = await closed;
  t.regex(output, /"msg":"stopped"/);
  t.notRegex(output, /ELIFECYCLE|Command failed/);
  t.deepEqual({ code, signal }, { code: 0, signal: null });
});

/** pnpm's CLI, as `npx --yes pnpm@10` installs it (CI and the README run pnpm that way). */
async function pnpmCli(): Promise<string> {
  const child = spawn('npx', ['--yes', '--package', 'pnpm@10', '-c', 'command -v pnpm'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await once(child, 'close');
  return realpath(out.trim().split('\n').at(-1)!);
}
