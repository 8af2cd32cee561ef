import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { oneSeatCatalog } from './helpers/catalog.js';
import { walkThrough } from './helpers/readme.js';
import { eventually, startServerProcess } from './helpers/serverProcess.js';

// The contract: Stoplight Prism (a maintained OpenAPI 3.1 validator) runs as a validating proxy
// in front of the real server, with the server's own /openapi.json, and checks every request and
// answer that goes through it: the README's walk-through, the event stream and the refusals.

const run = promisify(execFile);
const prism = fileURLToPath(new URL('../node_modules/.bin/prism', import.meta.url));
const ADMIN_TOKEN = 'an-operator-token-for-the-contract';

interface Violation {
  readonly location: string[];
  readonly severity: string;
  readonly code: string | number;
  readonly message: string;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Prism's proxy in front of `upstream`, validating against `document`; its log lines are kept. */
async function startPrism(t: ExecutionContext, document: unknown, upstream: string) {
  const dir = await mkdtemp(join(tmpdir(), 'usher-prism-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'openapi.json');
  await writeFile(file, JSON.stringify(document));
  const port = await freePort();
  const child = spawn(prism, ['proxy', file, upstream, '-h', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No colours, so that the log reads as text.
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  t.teardown(() => child.kill('SIGKILL'));
  const log: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => log.push(line));
  await eventually(
    async () => (log.some((line) => line.includes('Prism is listening')) ? true : undefined),
    60_000,
    'Prism to listen',
  );
  return { url: `http://127.0.0.1:${port}`, log };
}

/** A request through the proxy: the answer, and the violations Prism found in it (`sl-violations`). */
async function call(
  url: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    type,
    text,
    body: /json/.test(type) && text !== '' ? (JSON.parse(text) as Record<string, any>) : {},
    retryAfter: response.headers.get('retry-after'),
    violations: JSON.parse(response.headers.get('sl-violations') ?? '[]') as Violation[],
  };
}

/** The real server with `env` (on a DATA_DIR of its own), and Prism in front of it with its own document. */
async function serverBehindPrism(t: ExecutionContext, env: Record<string, string> = {}) {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-contract-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const server = await startServerProcess({ DATA_DIR, ADMIN_TOKEN, QUEUE_TICK_MS: '200', ...env });
  t.teardown(() => server.process.kill('SIGKILL'));
  const document = await (await fetch(`${server.url}/openapi.json`)).json();
  const proxy = await startPrism(t, document, server.url);
  const api = (...args: Parameters<typeof call> extends [string, ...infer Rest] ? Rest : never) =>
    call(proxy.url, ...args);
  /** Joins the queue as `userId`: the token. */
  const joinQueue = async (userId: string) =>
    (await api('POST', '/queue/tokens', { body: { userId } })).body.token as string;
  return { proxy, api, joinQueue };
}

test('Prism, validating against /openapi.json in front of the real server, finds no violation in the walk-through, the event stream and the refusals', async (t) => {
  const { proxy, api, joinQueue } = await serverBehindPrism(t);

  /** Prism's log since `from`, once it has logged the request to `marker` (everything before is in). */
  const logUpTo = async (from: number, marker: string) => {
    await api('GET', `/health?${marker}`);
    await eventually(
      async () => (proxy.log.some((line) => line.includes(marker)) ? true : undefined),
      10_000,
      `Prism's log of ${marker}`,
    );
    return proxy.log.slice(from);
  };
  const problems = (lines: string[]) =>
    lines.filter((line) => /Violation|✖|error/i.test(line) && !/\binfo\b/.test(line));

  // 1. The README's walk-through, pasted into bash, through the proxy: not one violation.
  const before = proxy.log.length;
  const { stdout, stderr } = await run(
    'bash',
    ['--norc', '--noprofile', '-c', await walkThrough(proxy.url)],
    { timeout: 60_000 },
  );
  t.regex(stdout + stderr, /^ {2}201 \{"id":"[^"]+","reservationId"/m, 'the walk-through paid');
  t.regex(stdout + stderr, /409 refused, INSUFFICIENT_BALANCE/);
  const walked = await logUpTo(before, 'after-the-walk-through');
  t.true(
    walked.filter((line) => line.includes('Request received')).length >= 10,
    'the walk-through went through the proxy',
  );
  t.deepEqual(problems(walked), [], 'no violation in the walk-through');

  // 2. The refusals: each answered by the server (its problem code), each answer as documented.
  // Where the request itself breaks the contract on purpose, Prism says so about the request only.
  // (Malformed JSON is left out: Prism 5.14 never answers a request whose body it cannot parse;
  // packages/koa/test/http.test.ts checks that refusal.)
  const ann = await joinQueue('ann');
  const bob = await joinQueue('bob');
  const hold = await api('POST', '/reservations', {
    token: ann,
    body: { scheduleId: 'iu-golden-hour-1', seatNo: 30 },
  });
  t.is(hold.status, 201);
  const refusals: [
    string,
    ReturnType<typeof api>,
    number,
    string,
    request: string[] /* the request's deliberate violations */,
  ][] = [
    ['no token', api('GET', '/concerts'), 401, 'TOKEN_MISSING', ['request']],
    [
      'unknown token',
      api('GET', '/concerts', { token: 'no-such-token' }),
      401,
      'TOKEN_INVALID',
      [],
    ],
    [
      'a userId that is not a string',
      api('POST', '/queue/tokens', { body: { userId: 5 } }),
      400,
      'VALIDATION_FAILED',
      ['request.body.userId'],
    ],
    [
      'a top-up over the upper bound',
      api('POST', '/users/ann/balance/charge', { token: ann, body: { amount: 99_999_999_999 } }),
      400,
      'VALIDATION_FAILED',
      ['request.body.amount'],
    ],
    [
      "another user's wallet",
      api('GET', '/users/bob/balance', { token: ann }),
      403,
      'FORBIDDEN',
      [],
    ],
    [
      'an unknown concert',
      api('GET', '/concerts/no-such-concert/schedules', { token: ann }),
      404,
      'CONCERT_NOT_FOUND',
      [],
    ],
    [
      'a seat that does not exist',
      api('POST', '/reservations', {
        token: bob,
        body: { scheduleId: 'iu-golden-hour-1', seatNo: 9_999 },
      }),
      404,
      'SEAT_NOT_FOUND',
      [],
    ],
    [
      'a seat held by someone else',
      api('POST', '/reservations', {
        token: bob,
        body: { scheduleId: 'iu-golden-hour-1', seatNo: 30 },
      }),
      409,
      'SEAT_UNAVAILABLE',
      [],
    ],
    [
      'paying with no money',
      api('POST', '/payments', { token: ann, body: { reservationId: hold.body.id } }),
      409,
      'INSUFFICIENT_BALANCE',
      [],
    ],
    [
      "someone else's reservation",
      api('GET', `/reservations/${hold.body.id}`, { token: bob }),
      404,
      'RESERVATION_NOT_FOUND',
      [],
    ],
    ['no admin token', api('GET', '/admin/room'), 401, 'ADMIN_TOKEN_INVALID', ['request']],
  ];
  for (const [what, answer, status, code, request] of refusals) {
    const { status: got, type, body, violations } = await answer;
    t.is(got, status, what);
    t.is(body.code, code, `${what}: answered by the server`);
    t.regex(type, /^application\/problem\+json/, what);
    t.deepEqual(
      violations.map((violation) => violation.location.join('.')),
      request,
      `${what}: ${JSON.stringify(violations)}`,
    );
  }
  // The same Idempotency-Key for a different amount.
  const key = { 'idempotency-key': 'contract-top-up' };
  const first = await api('POST', '/users/ann/balance/charge', {
    token: ann,
    body: { amount: 1_000 },
    headers: key,
  });
  const reused = await api('POST', '/users/ann/balance/charge', {
    token: ann,
    body: { amount: 2_000 },
    headers: key,
  });
  t.deepEqual(
    [first.status, reused.status, reused.body.code],
    [200, 409, 'IDEMPOTENCY_KEY_REUSED'],
  );
  t.deepEqual([...first.violations, ...reused.violations], []);

  // 3. The operator pauses the room: a new token waits, and is refused the concerts with its place.
  const paused = await api('PATCH', '/admin/room', { token: ADMIN_TOKEN, body: { paused: true } });
  t.deepEqual([paused.status, paused.violations], [200, []]);
  const cat = await api('POST', '/queue/tokens', { body: { userId: 'cat' } });
  t.like(cat.body, { status: 'waiting', position: 1 });
  const notYet = await api('GET', '/concerts', { token: cat.body.token });
  t.like(notYet.body, { code: 'TOKEN_NOT_ACTIVE', position: 1 });
  t.deepEqual(notYet.violations, []);

  // 4. The event stream, as EventSource asks for it (?access_token=): open while waiting, then
  // admitted when the room reopens, and the stream ends. Prism checks the whole of it.
  const stream = api('GET', `/queue/tokens/current/events?access_token=${cat.body.token}`);
  await eventually(
    async () =>
      proxy.log.some((line) => line.includes('/queue/tokens/current/events')) ? true : undefined,
    10_000,
    'the stream to open',
  );
  const reopened = await api('PATCH', '/admin/room', {
    token: ADMIN_TOKEN,
    body: { paused: false },
  });
  t.deepEqual(reopened.violations, []);
  const events = await stream;
  t.is(events.status, 200);
  t.regex(events.type, /^text\/event-stream/);
  t.regex(events.text, /event: token\ndata: \{[^\n]*"status":"waiting"/);
  t.regex(events.text, /event: token\ndata: \{[^\n]*"status":"active"/);
  t.deepEqual(events.violations, [], 'the event stream is as documented');
  // The same stream with the token in the header (the other declared scheme), once active: one event.
  const header = await api('GET', '/queue/tokens/current/events', { token: cat.body.token });
  t.deepEqual([header.status, header.violations], [200, []]);

  // 5. The rest of what is documented and was not walked: the operator's views, the probes.
  for (const path of ['/admin/room', '/metrics'])
    t.deepEqual((await api('GET', path, { token: ADMIN_TOKEN })).violations, [], path);
  for (const path of ['/health', '/ready', '/openapi.json', '/reservations?status=held'])
    t.deepEqual((await api('GET', path, { token: ann })).violations, [], path);

  // Nothing in Prism's whole log but the request violations made on purpose above.
  const all = await logUpTo(0, 'at-the-end');
  t.deepEqual(
    problems(all).filter((line) => !/Violation: request\b|Invalid security scheme used/.test(line)),
    [],
  );
});

test("issue 21's answers are as documented: a token ended by sold-out polled (200, expired, sold_out) and the admin guess limit (429 with Retry-After)", async (t) => {
  const CATALOG = await oneSeatCatalog(t);
  const { api, joinQueue } = await serverBehindPrism(t, { CATALOG, QUEUE_MAX_ACTIVE: '1' });

  // Ann is active and buys the one seat while bob waits: at the next tick bob's token ends, sold out.
  const ann = await joinQueue('ann');
  const bob = await joinQueue('bob');
  const hold = await api('POST', '/reservations', {
    token: ann,
    body: { scheduleId: 'tiny-1', seatNo: 1 },
  });
  const charged = await api('POST', '/users/ann/balance/charge', {
    token: ann,
    body: { amount: 50_000 },
  });
  const paid = await api('POST', '/payments', {
    token: ann,
    body: { reservationId: hold.body.id },
  });
  t.deepEqual(
    [hold, charged, paid].map((answer) => [answer.status, answer.violations]),
    [
      [201, []],
      [200, []],
      [201, []],
    ],
  );
  const soldOut = await eventually(
    async () => {
      const polled = await api('GET', '/queue/tokens/current', { token: bob });
      return polled.body.status === 'expired' ? polled : undefined;
    },
    10_000,
    "bob's token to end",
  );
  t.is(soldOut.status, 200);
  t.like(soldOut.body, { status: 'expired', reason: 'sold_out', position: 0 });
  t.deepEqual(soldOut.violations, [], 'the sold-out answer is a documented QueueToken');

  // Ten wrong admin tokens from one address, then 429 for a minute: even the right token.
  for (let guess = 0; guess < 10; guess++) {
    const wrong = await api('GET', '/admin/room', { token: `wrong-guess-${guess}` });
    t.deepEqual(
      [wrong.status, wrong.body.code, wrong.violations],
      [401, 'ADMIN_TOKEN_INVALID', []],
    );
  }
  for (const token of ['one-more-wrong-guess', ADMIN_TOKEN]) {
    const limited = await api('GET', '/admin/room', { token });
    t.deepEqual(
      [limited.status, limited.body.code, limited.violations],
      [429, 'RATE_LIMITED', []],
      token,
    );
    t.regex(limited.retryAfter ?? '', /^[1-9]\d*$/, 'Retry-After, whole seconds');
  }
});
