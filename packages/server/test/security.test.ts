import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { readConfig } from '../src/config.js';
import { startServerProcess, type ServerProcess } from './helpers/serverProcess.js';

async function server(
  t: ExecutionContext,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-security-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const running = await startServerProcess({ DATA_DIR, ...env });
  t.teardown(() => running.process.kill('SIGKILL'));
  return running;
}

const SHOP = 'https://shop.example';

test('security headers on the page, the docs, the API and its refusals', async (t) => {
  const { url } = await server(t);
  for (const [path, status] of [
    ['/', 200],
    ['/app.js', 200],
    ['/docs', 200],
    ['/health', 200],
    ['/concerts', 401],
    ['/nowhere', 404],
  ] as const) {
    const response = await fetch(`${url}${path}`);
    t.is(response.status, status, path);
    const csp = response.headers.get('content-security-policy') ?? '';
    t.regex(csp, /default-src 'self'/, `${path}: CSP`);
    t.regex(csp, /script-src 'self'(;|$)/, `${path}: scripts from this origin only, none inline`);
    t.regex(csp, /style-src 'self'(;|$)/, `${path}: styles from this origin only, none inline`);
    t.notRegex(csp, /upgrade-insecure-requests/, `${path}: the server speaks plain HTTP`);
    t.is(response.headers.get('x-content-type-options'), 'nosniff', path);
    t.is(response.headers.get('x-frame-options'), 'SAMEORIGIN', path);
    t.is(response.headers.get('referrer-policy'), 'no-referrer', path);
    t.truthy(response.headers.get('strict-transport-security'), path);
    t.is(response.headers.get('access-control-allow-origin'), null, `${path}: no CORS by default`);
    await response.arrayBuffer();
  }
});

test('CORS is off by default: no origin is allowed, a preflight gets no permission', async (t) => {
  const { url } = await server(t);
  const simple = await fetch(`${url}/health`, { headers: { Origin: SHOP } });
  t.is(simple.headers.get('access-control-allow-origin'), null);
  const preflight = await fetch(`${url}/payments`, {
    method: 'OPTIONS',
    headers: {
      Origin: SHOP,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type',
    },
  });
  t.is(preflight.headers.get('access-control-allow-origin'), null);
  t.is(preflight.headers.get('access-control-allow-methods'), null);
});

test('CORS_ORIGINS: the listed origins may call the API, others may not; preflights work', async (t) => {
  const { url } = await server(t, { CORS_ORIGINS: ` ${SHOP}, http://localhost:5173 ` });
  for (const [userId, origin] of [
    ['ann', SHOP],
    ['bob', 'http://localhost:5173'],
  ] as const) {
    const allowed = await fetch(`${url}/queue/tokens`, {
      method: 'POST',
      headers: { Origin: origin, 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    t.is(allowed.status, 201);
    t.is(allowed.headers.get('access-control-allow-origin'), origin);
    t.regex(allowed.headers.get('vary') ?? '', /Origin/);
    t.regex(allowed.headers.get('access-control-expose-headers') ?? '', /Idempotent-Replayed/);
    t.is(
      allowed.headers.get('access-control-allow-credentials'),
      null,
      'no cookies: the token travels in Authorization',
    );
  }
  // A refusal carries the permission too, so that the front end can read the problem.
  const refused = await fetch(`${url}/concerts`, { headers: { Origin: SHOP } });
  t.is(refused.status, 401);
  t.is(refused.headers.get('access-control-allow-origin'), SHOP);

  for (const other of [
    'https://evil.example',
    'https://shop.example:8443',
    'http://shop.example',
    'null',
  ]) {
    const response = await fetch(`${url}/health`, { headers: { Origin: other } });
    t.is(response.status, 200);
    t.is(response.headers.get('access-control-allow-origin'), null, other);
  }

  const preflight = await fetch(`${url}/payments`, {
    method: 'OPTIONS',
    headers: {
      Origin: SHOP,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type, idempotency-key',
    },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers.get('access-control-allow-origin'), SHOP);
  t.regex(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
  const allowHeaders = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase();
  for (const header of ['authorization', 'content-type', 'idempotency-key'])
    t.true(allowHeaders.includes(header), header);
  const otherPreflight = await fetch(`${url}/payments`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
  });
  t.is(otherPreflight.headers.get('access-control-allow-origin'), null);
});

test('CORS_ORIGINS must be origins: a path, a trailing slash or a bare host stops the server at start, naming it', (t) => {
  t.deepEqual(readConfig({}).corsOrigins, []);
  t.deepEqual(readConfig({ CORS_ORIGINS: '' }).corsOrigins, []);
  t.deepEqual(readConfig({ CORS_ORIGINS: 'https://a.example,http://localhost:5173' }).corsOrigins, [
    'https://a.example',
    'http://localhost:5173',
  ]);
  for (const bad of [
    'https://a.example/',
    'https://a.example/shop',
    'a.example',
    '*',
    'ftp://a.example',
  ]) {
    t.throws(
      () => readConfig({ CORS_ORIGINS: bad }),
      { message: /CORS_ORIGINS.*is not an origin/ },
      bad,
    );
  }
});
