import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, get, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { isLoopback, limitConnections, type HttpLimits } from '../src/connectionLimits.js';
import {
  client,
  eventually,
  startServerProcess,
  type ServerProcess,
} from './helpers/serverProcess.js';

// Every load here is bounded in count and time, and only ever on 127.0.0.x.

async function dataDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-limits-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(
  t: ExecutionContext,
  env: Record<string, string>,
): Promise<{ server: ServerProcess; port: number }> {
  const server = await startServerProcess({ DATA_DIR: await dataDir(t), ...env });
  t.teardown(() => server.process.kill('SIGKILL'));
  return { server, port: Number(new URL(server.url).port) };
}

/** The real server as {@link startServerProcess} starts it, but under `ulimit -n <openFiles>` (hard and soft). */
async function startWithOpenFileLimit(
  t: ExecutionContext,
  openFiles: number,
  env: Record<string, string>,
): Promise<{ server: ServerProcess; port: number }> {
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const child = spawn(
    'bash',
    ['-c', `ulimit -n ${openFiles} && exec "$0" "$@"`, process.execPath, ...process.execArgv, main],
    {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: await dataDir(t), ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const logs: Record<string, unknown>[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (typeof entry.url === 'string') resolve(entry.url);
    });
    void exited.then(({ code }) =>
      reject(
        new Error(`the server exited (${code}) before it listened: ${JSON.stringify(logs.at(-1))}`),
      ),
    );
  });
  return {
    server: { url, process: child, logs, exited, stderr: () => '' },
    port: Number(new URL(url).port),
  };
}

/**
 * Holds up to `count` sockets from `localAddress` that never send a byte, and
 * every 250 ms opens new ones for those that were closed; `budget` opens at most.
 */
function idleSockets(port: number, localAddress: string, count: number, budget: number) {
  const open = new Set<Socket>();
  let connected = 0;
  let opened = 0;
  let closedByServer = 0;
  const topUp = () => {
    while (open.size < count && opened < budget) {
      opened++;
      const socket = connect({ host: '127.0.0.1', port, localAddress });
      open.add(socket);
      socket.on('error', () => undefined);
      socket.once('connect', () => connected++);
      socket.once('close', () => {
        if (open.delete(socket)) closedByServer++;
      });
    }
  };
  topUp();
  const timer = setInterval(topUp, 250);
  return {
    /** Sockets open now (connected or connecting). */
    get held() {
      return open.size;
    },
    get connected() {
      return connected;
    },
    get closedByServer() {
      return closedByServer;
    },
    stop() {
      clearInterval(timer);
      const sockets = [...open];
      open.clear();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** `GET path` on a connection of its own from `localAddress` (or of `agent`); rejects after `timeoutMs`. */
function getOnce(
  port: number,
  path: string,
  timeoutMs: number,
  localAddress = '127.0.0.1',
  agent: Agent | false = false,
): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path, localAddress, agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode!, body, ms: performance.now() - started }),
      );
    });
    request.setTimeout(timeoutMs, () =>
      request.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)),
    );
    request.on('error', reject);
  });
}

/** Opens an event stream and resolves once its first `token` event came. */
function openStream(
  port: number,
  token: string,
  localAddress = '127.0.0.1',
): Promise<{ response: IncomingMessage; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const request = get(
      {
        host: '127.0.0.1',
        port,
        path: `/queue/tokens/current/events?access_token=${token}`,
        localAddress,
        agent: false,
      },
      (response) => {
        let text = '';
        const ended = new Promise<void>((done) => response.once('close', done));
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('event: token')) resolve({ response, text: () => text, ended });
        });
      },
    );
    request.setTimeout(5_000, () => request.destroy(new Error('no event within 5 s')));
    request.on('error', reject);
  });
}

/** Resolves when `socket` closes; rejects after `timeoutMs`. */
function closed(socket: Socket, timeoutMs: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (socket.closed) return resolve(0);
    const timer = setTimeout(
      () => reject(new Error(`still open after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}

test('the original report: 180 idle sockets under a 200-descriptor limit do not lock out a new client', async (t) => {
  // The default cap comes from the open-file limit (200 - 64 reserved); per address off,
  // as behind a proxy, so only the total cap stands between the idle sockets and /health.
  const { server, port } = await startWithOpenFileLimit(t, 200, {
    MAX_CONNECTIONS_PER_ADDRESS: '0',
  });
  if (process.platform === 'linux')
    t.like(
      server.logs.find((entry) => entry.msg === 'http limits'),
      { maxConnections: 136 },
    );
  const attack = idleSockets(port, '127.0.0.2', 180, 4_000);
  t.teardown(() => attack.stop());
  await eventually(async () => (attack.connected >= 180 ? true : undefined), 10_000);
  for (let i = 0; i < 5; i++) {
    const health = await getOnce(port, '/health', 3_000);
    t.is(health.status, 200);
    t.deepEqual(JSON.parse(health.body), { status: 'ok' });
    t.true(health.ms < 3_000);
  }
  t.true(attack.held > 100, `the idle sockets were still held (${attack.held})`);
  t.true(attack.closedByServer > 0, 'room was made by closing idle sockets');
});

test('at MAX_CONNECTIONS the oldest idle connection makes room; with none idle the new one is refused', async (t) => {
  const { server, port } = await start(t, {
    MAX_CONNECTIONS: '40',
    MAX_CONNECTIONS_PER_ADDRESS: '0',
    MAX_STREAMS_PER_TOKEN: '10',
    QUEUE_MAX_ACTIVE: '1',
  });
  // Tokens first, while there is room: ann is active, everyone else waits.
  const api = client(server.url);
  const tokens: string[] = [];
  for (const userId of ['ann', 'bob', 'cat', 'dan', 'eve'])
    tokens.push((await api('POST', '/queue/tokens', { body: { userId } })).body.token as string);

  const attack = idleSockets(port, '127.0.0.2', 60, 2_000);
  t.teardown(() => attack.stop());
  await eventually(
    async () => (attack.connected >= 60 && attack.closedByServer >= 20 ? true : undefined),
    10_000,
  );
  for (let i = 0; i < 3; i++) t.is((await getOnce(port, '/health', 3_000)).status, 200);
  attack.stop();

  // 40 busy connections (event streams): nothing idle to close, so the 41st is refused and no stream is touched.
  const streams: Awaited<ReturnType<typeof openStream>>[] = [];
  for (let i = 0; i < 40; i++)
    streams.push(await openStream(port, tokens[1 + (i % 4)]!, `127.0.0.${3 + (i % 4)}`));
  t.teardown(() => streams.forEach((stream) => stream.response.destroy()));
  const refused = connect({ host: '127.0.0.1', port });
  refused.on('error', () => undefined);
  t.true((await closed(refused, 3_000)) >= 0, 'the 41st connection was closed');
  await t.throwsAsync(getOnce(port, '/health', 1_000));
  t.true(
    streams.every((stream) => !stream.response.closed),
    'every stream is still open',
  );
  streams.pop()!.response.destroy();
  t.is(
    (await eventually(async () => getOnce(port, '/health', 1_000).catch(() => undefined), 5_000))
      .status,
    200,
    'a stream that ends makes room',
  );
});

test('a load test from this machine works with the defaults: 100 kept-alive connections from 127.0.0.1, every request answered', async (t) => {
  // `npx autocannon -c 100 http://127.0.0.1:3000/health` against `pnpm start`: loopback has no per-address cap.
  const { server, port } = await start(t, {});
  const agent = new Agent({ keepAlive: true, maxSockets: 100 });
  t.teardown(() => agent.destroy());
  const statuses = new Map<string, number>();
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        getOnce(port, '/health', 10_000, '127.0.0.1', agent).then(
          ({ status }) => String(status),
          (error: Error) => error.message,
        ),
      ),
    );
    for (const answer of answers) statuses.set(answer, (statuses.get(answer) ?? 0) + 1);
  }
  t.deepEqual([...statuses], [['200', 300]]);
  t.true(Object.keys(agent.sockets).length + Object.keys(agent.freeSockets).length > 0);
  t.is(
    server.logs.filter((entry) => entry.level === 40).length,
    0,
    'no connection was closed for a limit',
  );
});

/** A real HTTP server in this process with {@link limitConnections}, its warnings collected. */
async function limitedServer(
  t: ExecutionContext,
  limits: Partial<HttpLimits>,
  options: Parameters<typeof limitConnections>[3] = {},
) {
  const warnings: { msg: string; [field: string]: unknown }[] = [];
  const logger = pino(
    { level: 'warn' },
    { write: (line: string) => void warnings.push(JSON.parse(line)) },
  );
  const server = createServer((_request, response) => response.end('{"status":"ok"}'));
  limitConnections(
    server,
    {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      maxConnections: 1_000,
      maxConnectionsPerAddress: 64,
      ...limits,
    },
    logger,
    options,
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, warnings };
}

test('MAX_CONNECTIONS_PER_ADDRESS closes the extra connections of one capped address at once, with a warning that names the setting; others are served', async (t) => {
  // Every address here is loopback, which the server leaves uncapped: this one caps them all.
  const { port, warnings } = await limitedServer(
    t,
    { maxConnectionsPerAddress: 5 },
    { uncapped: () => false },
  );
  const sockets = Array.from({ length: 8 }, () =>
    connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }).on('error', () => undefined),
  );
  t.teardown(() => sockets.forEach((socket) => socket.destroy()));
  await eventually(
    async () => (sockets.filter((socket) => socket.closed).length >= 3 ? true : undefined),
    3_000,
  );
  t.is(
    sockets.filter((socket) => socket.closed).length,
    3,
    'only the three over the cap were closed',
  );
  await t.throwsAsync(
    getOnce(port, '/health', 2_000, '127.0.0.2'),
    undefined,
    'a sixth connection from 127.0.0.2 is closed too',
  );
  t.is(
    (await getOnce(port, '/health', 2_000, '127.0.0.3')).status,
    200,
    'another address is served',
  );
  sockets[0]!.destroy();
  t.is(
    (
      await eventually(
        async () => getOnce(port, '/health', 1_000, '127.0.0.2').catch(() => undefined),
        5_000,
      )
    ).status,
    200,
    'a closed one makes room',
  );
  // Four connections were closed for the cap: one warning (at most one a minute), naming the setting.
  t.is(warnings.length, 1);
  t.like(warnings[0], { overAddressCap: 1, address: '127.0.0.2' });
  t.regex(warnings[0]!.msg, /MAX_CONNECTIONS_PER_ADDRESS=5/);
});

test('loopback addresses have no per-address cap by default; any other address does', (t) => {
  for (const address of ['127.0.0.1', '127.4.5.6', '::1', '::ffff:127.0.0.1'])
    t.true(isLoopback(address), address);
  for (const address of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', '2001:db8::1', '::'])
    t.false(isLoopback(address), address);
});

test('a socket that sends nothing, or its headers too slowly, is closed after HTTP_HEADERS_TIMEOUT_MS; event streams and idle keep-alive are not', async (t) => {
  const { server, port } = await start(t, {
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '1000',
    QUEUE_MAX_ACTIVE: '1',
  });
  const api = client(server.url);
  await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
  const bob = (await api('POST', '/queue/tokens', { body: { userId: 'bob' } })).body
    .token as string;
  const stream = await openStream(port, bob);
  t.teardown(() => stream.response.destroy());
  const keepAlive = connect({ host: '127.0.0.1', port });
  t.teardown(() => keepAlive.destroy());
  await new Promise<void>((resolve) => {
    keepAlive.once('connect', () => keepAlive.write('GET /health HTTP/1.1\r\nHost: usher\r\n\r\n'));
    keepAlive.once('data', () => resolve());
  });

  const silent = connect({ host: '127.0.0.1', port });
  const slow = connect({ host: '127.0.0.1', port });
  slow.once('connect', () => slow.write('GET /health HT'));
  const replies: string[] = [];
  for (const socket of [silent, slow]) {
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => replies.push(String(chunk)));
    t.teardown(() => socket.destroy());
  }
  const [silentMs, slowMs] = await Promise.all([closed(silent, 4_000), closed(slow, 4_000)]);
  t.true(silentMs >= 900, `closed after ${Math.round(silentMs)} ms`);
  t.true(slowMs >= 900, `closed after ${Math.round(slowMs)} ms`);
  t.deepEqual(replies, [], 'nothing is written to them, not even a 400');
  // Twice the request timeout later the event stream and the idle keep-alive connection are still there.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  t.false(stream.response.closed, 'the event stream is still open');
  t.false(keepAlive.closed, 'the idle keep-alive connection is still open');
});
