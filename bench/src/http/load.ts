import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

/**
 * Starts a server script as a child process, pinned to CPU 0 when `taskset` exists (`pin`: other cores,
 * e.g. `0-1`, given explicitly so that the child does not inherit this process's mask; `false`: not pinned);
 * resolves its URL once a line matches `ready` (default: the first line with a 127.0.0.1 URL).
 * `wrapper`: a command node runs under (e.g. valgrind's, see `valgrind.ts`); the child's pid is then the wrapper's.
 *
 * The server's stdout (its JSON log, one access line per request) goes to a file, as a log file would:
 * through a pipe it was read by this process, the load generator, which fell behind under load (and
 * the server then dropped lines or waited for it). `output` holds the lines up to the ready one and,
 * once {@link stopServer} returns, the last lines (not the access log's).
 */
export async function startServer(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
  wrapper: string[] = [],
  options: { pin?: boolean | string; ready?: RegExp } = {},
): Promise<{ url: string; child: ChildProcess; output: string[] }> {
  const pinned = options.pin !== false && (await hasTaskset());
  const cores = typeof options.pin === 'string' ? options.pin : '0';
  const line = [...wrapper, process.execPath, ...nodeArgs, script, ...args];
  const [command, ...argv] = pinned ? ['taskset', '-c', cores, ...line] : line;
  const folder = mkdtempSync(join(tmpdir(), 'usher-bench-log-'));
  const logFile = join(folder, 'stdout.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(command!, argv, {
    stdio: ['ignore', fd, 'inherit'],
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  const output: string[] = [];
  /** Bytes of the file already in `output` (up to the ready line). */
  let consumed = 0;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  closed.set(
    child,
    exited.then(() => {
      // The last lines (a server's closing words: 'store closed', its tick times), without the access log.
      output.push(...tail(logFile, consumed, 64 * 1024).filter((line) => !isAccessLine(line)));
      rmSync(folder, { recursive: true, force: true });
    }),
  );
  const reader = openSync(logFile, 'r');
  let position = 0;
  let partial = '';
  const ready = options.ready ?? /(http:\/\/127\.0\.0\.1:\d+)/;
  try {
    for (;;) {
      const buffer = Buffer.alloc(64 * 1024);
      const read = readSync(reader, buffer, 0, buffer.length, position);
      position += read;
      const lines = (partial + buffer.subarray(0, read).toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        output.push(line);
        consumed += Buffer.byteLength(line) + 1;
        const match = ready.exec(line);
        if (match) return { url: match[1]!, child, output };
      }
      if (read === buffer.length) continue;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${script} exited before it listened: ${output.at(-1) ?? ''}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    closeSync(reader);
  }
}

/** An access-log line (one per request). */
const isAccessLine = (line: string) => line.includes('"durationMs":');

/** The whole lines in the last `bytes` of `file`, none before offset `from`. */
function tail(file: string, from: number, bytes: number): string[] {
  try {
    const size = statSync(file).size;
    const start = Math.max(from, size - bytes);
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(size - start);
      readSync(fd, buffer, 0, buffer.length, start);
      const lines = buffer
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '');
      // Started mid-line: the first is a piece.
      return start > from ? lines.slice(1) : lines;
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
}

/** Stops a server started by {@link startServer} and waits until it has exited (its last lines are then in `output`). */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await closed.get(child);
}

const closed = new WeakMap<ChildProcess, Promise<unknown>>();

let taskset: Promise<boolean> | undefined;
function hasTaskset(): Promise<boolean> {
  taskset ??= new Promise((resolve) => {
    const probe = spawn('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    probe.once('error', () => resolve(false));
    probe.once('exit', (code) => resolve(code === 0));
  });
  return taskset;
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** Responses by status code. */
  readonly statuses: Record<string, number>;
}

/** Runs autocannon against 127.0.0.1 only, for a bounded time. */
export async function load(options: autocannon.Options): Promise<LoadResult> {
  if (!String(options.url).startsWith('http://127.0.0.1:'))
    throw new Error('load tests only target 127.0.0.1');
  const result = await autocannon({ connections: 100, duration: 5, timeout: 10, ...options });
  const statuses: Record<string, number> = {};
  for (const [key, value] of Object.entries(result.statusCodeStats ?? {}))
    statuses[key] = value.count ?? 0;
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
  };
}
