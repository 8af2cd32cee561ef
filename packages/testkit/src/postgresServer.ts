import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { TestFn } from 'ava';
import pg from 'pg';

/**
 * A real PostgreSQL server of its own, for one test file or one test: Debian's
 * binaries, a fresh temp folder made by `initdb` (copied from a cached template),
 * listening on 127.0.0.1 only, on a free port, with a database `usher`.
 *
 * Durability is left as PostgreSQL ships it (`fsync` and `synchronous_commit` on),
 * so a test that crashes the server with `stop('immediate')` means something.
 */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/usher` (trust authentication, no password). */
  readonly connectionString: string;
  readonly port: number;
  /** The data directory; it also holds the server's Unix socket and its log. */
  readonly dataDir: string;
  /** The server's log file (inside {@link dataDir}), for when a test needs to read why. */
  readonly logFile: string;
  /**
   * Stops the server: `'fast'` (the default) is a clean shutdown; `'immediate'` is a
   * crash (no checkpoint, the next start replays the WAL). A no-op when stopped.
   */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again after {@link stop}, on the same data directory and port. A no-op when running. */
  start(): Promise<void>;
  /** Stops the server if it runs (a crash: the data is going anyway) and deletes its folder. */
  remove(): Promise<void>;
}

export interface StartPostgresOptions {
  /**
   * Extra `postgresql.conf` settings, e.g. `{ statement_timeout: '5s' }`. They come after
   * the harness's defaults (`max_connections = 200`, `recovery_init_sync_method = syncfs`),
   * so they can override them, but not `listen_addresses`, `port` or
   * `unix_socket_directories`, which the harness owns.
   */
  readonly settings?: Readonly<Record<string, string>>;
}

const asRoot = process.getuid?.() === 0;

/**
 * Starts a PostgreSQL server of its own and creates the database `usher`: about a second
 * (copy an `initdb` result, `pg_ctl start`, `CREATE DATABASE`), plus one to three seconds
 * for the first server on a machine, which runs `initdb` itself.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root the binaries run as
 * the `postgres` user through `runuser` on a folder it owns; otherwise as the current user.
 * The binaries are those of the newest version under `/usr/lib/postgresql`, or of `PG_BIN`.
 *
 * If the test process dies without calling {@link PostgresServer.remove} (killed, even by
 * SIGKILL, or an uncaught error), a small watchdog (`sh`, detached, reading a pipe from this
 * process) sees the pipe close, crashes the server with `pg_ctl -m immediate stop` and
 * deletes the folder: no test run leaves a postgres behind.
 *
 * @example
 * ```ts
 * test('a committed row survives a crash', async (t) => {
 *   const server = await startPostgres();
 *   t.teardown(() => server.remove());
 *   // … new pg.Client(server.connectionString) …
 *   await server.stop('immediate');
 *   await server.start();
 * });
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBin();
  const dataDir = await mkdtemp(join(tmpdir(), 'usher-pg-'));
  const logFile = join(dataDir, 'postgres.log');
  let watchdog: ChildProcess | undefined;
  try {
    if (asRoot) await run('chown', ['-R', 'postgres:postgres', dataDir], dataDir);
    watchdog = startWatchdog(bin, dataDir);
    await runPostgres('cp', ['-a', `${await initdbTemplate(bin)}/.`, dataDir], dataDir);
    const conf = join(dataDir, 'postgresql.conf');
    const initialConf = await readFile(conf, 'utf8');

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const logSoFar = (await readFile(logFile, 'utf8').catch(() => '')).length;
      // Written to postgresql.conf rather than passed with `pg_ctl -o`: no shell quoting,
      // and a plain `pg_ctl start` on the folder (or start()) starts the same server.
      await writeFile(conf, initialConf + settingsBlock(port, dataDir, options.settings ?? {}));
      try {
        await pgCtl(bin, dataDir, ['-l', logFile, '-w', '-t', '60', 'start']);
        break;
      } catch (error) {
        // Another process may take the port between our probe and the server's bind.
        const log = (await readFile(logFile, 'utf8').catch(() => '')).slice(logSoFar);
        if (attempt >= 3 || !/could not bind|Address already in use/i.test(log)) throw error;
      }
    }

    const base = `postgres://postgres@127.0.0.1:${port}`;
    await query(`${base}/postgres`, 'CREATE DATABASE usher');

    let running = true;
    const server: PostgresServer = {
      connectionString: `${base}/usher`,
      port,
      dataDir,
      logFile,
      async stop(mode = 'fast') {
        if (!running) return;
        await pgCtl(bin, dataDir, ['-m', mode, '-w', 'stop']);
        running = false;
      },
      async start() {
        if (running) return;
        await pgCtl(bin, dataDir, ['-l', logFile, '-w', '-t', '60', 'start']);
        running = true;
      },
      async remove() {
        // A server that died on its own cannot be stopped; the folder goes all the same (and
        // a postmaster that somehow survives shuts itself down once its lock file is gone).
        await server.stop('immediate').catch(() => {});
        stopWatchdog(watchdog);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
    return server;
  } catch (error) {
    if (watchdog) {
      stopWatchdog(watchdog);
      await pgCtl(bin, dataDir, ['-m', 'immediate', '-w', 'stop']).catch(() => {});
    }
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(
      `could not start PostgreSQL in ${dataDir}${log ? `; server log:\n${log}` : ''}`,
      { cause: error },
    );
  }
}

/**
 * One server for a whole test file: started in `test.before`, removed in
 * `test.after.always`. Returns a getter, to call inside tests. Tests in a file run
 * concurrently, so a test that stops the server should start its own with
 * {@link startPostgres}, and tests that need a clean slate use {@link createDatabase}.
 *
 * @example
 * ```ts
 * const server = usePostgres(test);
 * test('…', async (t) => {
 *   const client = new pg.Client(await createDatabase(server()));
 * });
 * ```
 */
export function usePostgres<Context>(
  test: TestFn<Context>,
  options: StartPostgresOptions = {},
): () => PostgresServer {
  let server: PostgresServer | undefined;
  test.before(async () => {
    server = await startPostgres(options);
  });
  test.after.always(async () => {
    await server?.remove();
  });
  return () => {
    if (!server)
      throw new Error(
        'usePostgres: the server starts in test.before; call the getter inside a test',
      );
    return server;
  };
}

/**
 * Creates a fresh, empty database on `server` (a copy of `template1`: 150 to 500 ms here,
 * far less than a server) and returns its connection string, so tests sharing one server
 * stay isolated. Without a name, one is made up (`test_<random hex>`).
 *
 * @example
 * ```ts
 * const url = await createDatabase(server(), 'holds_race');
 * ```
 */
export async function createDatabase(
  server: PostgresServer,
  name = `test_${randomBytes(6).toString('hex')}`,
): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new Error(`createDatabase: not a plain lower-case identifier: ${name}`);
  await query(`postgres://postgres@127.0.0.1:${server.port}/postgres`, `CREATE DATABASE "${name}"`);
  return `postgres://postgres@127.0.0.1:${server.port}/${name}`;
}

const initdbArgs = ['-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C'];

/**
 * `initdb` takes one to three seconds and copying its result (40 MB) a fraction of that, so
 * the first server on a machine runs `initdb` into `<tmpdir>/usher-pg-template-<key>` (the
 * key hashes the binaries' folder, the arguments and the user) and every server starts from
 * a copy. The template appears by an atomic rename, so test files starting in parallel never
 * copy half of one (each may build its own; the first rename wins). `initdb` fsyncs it, as
 * it outlives the run; deleting it is always safe.
 */
async function initdbTemplate(bin: string): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify([bin, initdbArgs, process.getuid?.()]))
    .digest('hex')
    .slice(0, 12);
  const template = join(tmpdir(), `usher-pg-template-${key}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const building = await mkdtemp(join(tmpdir(), 'usher-pg-building-'));
  try {
    if (asRoot) await run('chown', ['postgres:postgres', building], building);
    await runPostgres(join(bin, 'initdb'), ['-D', building, ...initdbArgs], building);
    await rename(building, template).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return template;
}

/** The newest `/usr/lib/postgresql/<version>/bin` holding an `initdb`, or `PG_BIN`. */
export function postgresBin(): string {
  const fromEnv = process.env['PG_BIN'];
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter(
          (name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')),
        )
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(
      `no PostgreSQL binaries in ${root}/*/bin (apt-get install postgresql), and PG_BIN is not set`,
    );
  }
  return join(root, newest, 'bin');
}

function settingsBlock(
  port: number,
  dataDir: string,
  settings: Readonly<Record<string, string>>,
): string {
  const lines = Object.entries({
    max_connections: '200',
    // After a crash, PostgreSQL first fsyncs every file of the data directory (about a
    // thousand, 1.5 to 5 s here); one syncfs(2) of the file system gives the same guarantee
    // in a few milliseconds. Commits still wait for their WAL fsync (synchronous_commit on).
    recovery_init_sync_method: 'syncfs',
    ...settings,
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dataDir,
  }).map(([name, value]) => {
    if (!/^[a-z_][a-z0-9_.]*$/i.test(name))
      throw new Error(`startPostgres: not a setting name: ${name}`);
    return `${name} = '${value.replaceAll("'", "''")}'`;
  });
  return `\n# Written by the usher test harness (test/helpers/postgresServer.ts).\n${lines.join('\n')}\n`;
}

function pgCtl(bin: string, dataDir: string, args: readonly string[]): Promise<void> {
  return runPostgres(join(bin, 'pg_ctl'), ['-D', dataDir, ...args], dataDir);
}

/** Runs a PostgreSQL binary as `postgres` when we are root (it refuses root), else as ourselves. */
function runPostgres(command: string, args: readonly string[], cwd: string): Promise<void> {
  return asRoot
    ? run('runuser', ['-u', 'postgres', '--', command, ...args], cwd)
    : run(command, args, cwd);
}

function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // stdin ignored, output piped: `pg_ctl -l` sends the server's own output to the log
    // file, so the server never holds these pipes and 'close' comes when pg_ctl exits.
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${output.trim()}`,
          ),
        );
    });
  });
}

/**
 * A detached `sh` that blocks reading a pipe whose other end only this process holds. When
 * this process ends, however it ends, the read returns and the watchdog crashes the server
 * and deletes its folder. Detached (its own session), so a Ctrl-C to the test run's process
 * group does not kill it first.
 */
function startWatchdog(bin: string, dataDir: string): ChildProcess {
  const stop = [join(bin, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', '-w', 'stop'];
  const script = 'dir=$1; shift; read -r _ || :; "$@" > /dev/null 2>&1; rm -rf -- "$dir"';
  const args = [
    '-c',
    script,
    'usher-pg-watchdog',
    dataDir,
    ...(asRoot ? ['runuser', '-u', 'postgres', '--'] : []),
    ...stop,
  ];
  const child = spawn('sh', args, {
    cwd: dataDir,
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => {});
  child.stdin?.on('error', () => {});
  // Neither the watchdog nor its pipe may keep the test process alive.
  child.unref();
  (child.stdin as Socket | null)?.unref();
  return child;
}

function stopWatchdog(watchdog: ChildProcess | undefined): void {
  if (watchdog?.pid !== undefined && watchdog.exitCode === null && watchdog.signalCode === null) {
    watchdog.kill('SIGKILL');
  }
  watchdog?.stdin?.destroy();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function query(connectionString: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
