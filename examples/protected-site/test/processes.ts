import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** usher's server and this example, each a process of its own. */
const usherMain = fileURLToPath(new URL('../../../packages/server/src/main.ts', import.meta.url));
const siteMain = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface Running {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): void;
}

/** A free port on 127.0.0.1 (usher must know the site's origin before the site starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function start(main: string, env: Record<string, string>, ready: RegExp): Promise<Running> {
  const child = spawn(process.execPath, [...process.execArgv, main], {
    env: { ...process.env, HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (typeof entry.url === 'string' && ready.test(String(entry.msg))) resolve(entry.url);
    });
    child.once('exit', (code) => reject(new Error(`${main} exited (${code}) before it listened`)));
  });
  return { url, process: child, stop: () => child.kill('SIGKILL') };
}

/** usher (`@usher/server`), on a free port, with `env` (DATA_DIR, PASS_RETURN_ORIGINS…). */
export const startUsher = (env: Record<string, string>): Promise<Running> =>
  start(
    usherMain,
    { PORT: '0', QUEUE_TICK_MS: '100', TOKEN_RATE_PER_MINUTE: '0', LOG_LEVEL: 'info', ...env },
    /^usher listening/,
  );

/** This example's site, given only usher's address and its room (it never imports usher). */
export const startSite = (env: {
  USHER_URL: string;
  ROOM: string;
  PORT?: string;
}): Promise<Running> => start(siteMain, { PORT: '0', ...env }, /^protected site listening/);
