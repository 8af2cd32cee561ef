import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface ServerProcess {
  readonly url: string;
  readonly process: ChildProcess;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it wrote on stderr so far. */
  readonly stderr: () => string;
}

/**
 * Starts the real server (`src/main.ts`) as a child process on a free port; resolves once it listens.
 * With `fileSizeLimitKiB` it runs under `ulimit -f`: a write past that size fails with `EFBIG`
 * (Node ignores `SIGXFSZ`), which is how a full disk looks to the server.
 */
export async function startServerProcess(
  env: Record<string, string>,
  options: { fileSizeLimitKiB?: number } = {},
): Promise<ServerProcess> {
  const command = [process.execPath, ...process.execArgv, main];
  const limited =
    options.fileSizeLimitKiB === undefined
      ? command
      : ['bash', '-c', `ulimit -f ${options.fileSizeLimitKiB} && exec "$0" "$@"`, ...command];
  const child = spawn(limited[0]!, limited.slice(1), {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', QUEUE_TICK_MS: '20', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close', not 'exit': it comes after the child's output has all been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const logs: Record<string, unknown>[] = [];
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      // In a cluster, workers say they are ready first; the primary announces the server once all of them are.
      if (typeof entry.url === 'string' && String(entry.msg).startsWith('usher listening'))
        resolve(entry.url);
    });
    void exited.then(({ code }) =>
      reject(
        new Error(
          `the server exited (${code}) before it listened: ${stderr.trim() || JSON.stringify(logs.at(-1))}`,
        ),
      ),
    );
  });
  return { url, process: child, logs, exited, stderr: () => stderr };
}

/** Runs the real server with `env` until it exits by itself (a start that fails): its exit code, stdout and stderr. */
export async function runServerProcess(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...process.execArgv, main], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A guard against a start that hangs, not a time limit: a start on a loaded machine takes seconds.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Polls `check` until it returns a value (a real process has no simulated clock); fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 5_000,
  what = 'the condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A small JSON client for one server. */
export function client(url: string) {
  return async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get('content-type') ?? '',
      body: text ? (JSON.parse(text) as Record<string, any>) : {},
    };
  };
}
