import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import test from 'ava';

/**
 * The server's logger (`src/logger.ts`) as the workers of `WORKERS=N` use it: several processes
 * sharing one stdout pipe, read by a log collector that falls behind. Real processes, a real pipe.
 */
const loggerModule = fileURLToPath(new URL('../dist/logger.js', import.meta.url));
const LINES = 20_000;

/** `node` writing LINES access-style lines and a last one, then exiting at once. */
const writer = (name: string) => `
const { createLogger } = await import(${JSON.stringify(loggerModule)});
// As in a process that touched process.stdout: Node makes a stdout pipe non-blocking (for every process sharing it).
void process.stdout.fd;
const logger = createLogger('info', { service: 'usher', worker: '${name}' });
for (let i = 0; i < ${LINES}; i++) {
  logger.info({ requestId: crypto.randomUUID(), method: 'GET', route: '/queue/tokens/current', path: '/queue/tokens/current', status: 200, durationMs: 1, i }, 'GET /queue/tokens/current 200');
}
logger.info('stopped');
process.exit(0);
`;

test('two processes logging to one pipe that is read late: every line whole, none lost, the last one written before exit', async (t) => {
  // Both write to one pipe (as a container's stdout is), whose collector falls behind: it reads nothing
  // for half a second while they write (the pipe holds 64 KB).
  const shell = spawn(
    'sh',
    [
      '-c',
      `(node --input-type=module -e "$A" & node --input-type=module -e "$B" & wait) | (sleep 0.5; cat)`,
    ],
    {
      env: { ...process.env, A: writer('a'), B: writer('b') },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const chunks: Buffer[] = [];
  shell.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const [code] = (await once(shell, 'close')) as [number | null];
  t.is(code, 0);
  const lines = Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '');
  const broken = lines.filter((line) => {
    try {
      JSON.parse(line);
      return false;
    } catch {
      return true;
    }
  });
  t.is(broken.length, 0, `lines spliced into each other, e.g. ${broken[0]?.slice(0, 160)}`);
  const parsed = lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as { worker: string; i?: number; msg: string }];
    } catch {
      return [];
    }
  });
  for (const name of ['a', 'b']) {
    const own = parsed.filter((line) => line.worker === name);
    t.is(own.filter((line) => line.i !== undefined).length, LINES, `every line of ${name}`);
    t.is(own.at(-1)?.msg, 'stopped', `${name}'s last line, logged just before it exited`);
  }
});
