import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

/**
 * Starts a server script as a child process, pinned to CPU 0 when `taskset` exists (unless `pin: false`);
 * resolves its URL once a line matches `ready` (default: the first line with a 127.0.0.1 URL).
 * `wrapper`: a command node runs under (e.g. valgrind's, see `valgrind.ts`); the child's pid is then the wrapper's.
 */
export async function startServer(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
  wrapper: string[] = [],
  options: { pin?: boolean; ready?: RegExp } = {},
): Promise<{ url: string; child: ChildProcess; output: string[] }> {
  const pinned = options.pin !== false && (await hasTaskset());
  const line = [...wrapper, process.execPath, ...nodeArgs, script, ...args];
  const [command, ...argv] = pinned ? ['taskset', '-c', '0', ...line] : line;
  const child = spawn(command!, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  // 'close', not 'exit': it comes after the child's output (its last log lines) has all been read.
  closed.set(child, new Promise((resolve) => child.once('close', resolve)));
  const output: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      // Access-log lines (one per request) are read but not kept: a run would otherwise hold millions.
      if (!line.includes('"durationMs":')) output.push(line);
      const match = (options.ready ?? /(http:\/\/127\.0\.0\.1:\d+)/).exec(line);
      if (match) resolve({ url: match[1]!, child, output });
    });
    child.once('exit', () => reject(new Error(`${script} exited before it listened: ${output.at(-1) ?? ''}`)));
  });
}

/** Stops a server started by {@link startServer} and waits until its output has all been read. */
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
  if (!String(options.url).startsWith('http://127.0.0.1:')) throw new Error('load tests only target 127.0.0.1');
  const result = await autocannon({ connections: 100, duration: 5, timeout: 10, ...options });
  const statuses: Record<string, number> = {};
  for (const [key, value] of Object.entries(result.statusCodeStats ?? {})) statuses[key] = value.count ?? 0;
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
