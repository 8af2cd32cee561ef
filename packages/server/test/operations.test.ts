import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { solveChallenge } from 'altcha-lib/v1';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { client, eventually, runServerProcess, startServerProcess } from './helpers/serverProcess.js';

/**
 * The operator's side of the real server (SPEC §9) over real HTTP: the environment wires what @usher/koa's tests check in depth.
 * Serial: each test starts a server process, and many at once on a small machine slow every other file's starts too.
 */

const ADMIN_TOKEN = 'an-operator-token-for-tests';

async function start(t: ExecutionContext, env: Record<string, string>) {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-ops-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const server = await startServerProcess({ DATA_DIR, ...env });
  t.teardown(() => server.process.kill('SIGKILL'));
  return { server, api: client(server.url) };
}

test.serial('ADMIN_TOKEN turns on /metrics and the operator routes behind the token; every request, the page included, is one access-log line with its request id', async (t) => {
  const { server, api } = await start(t, { ADMIN_TOKEN });
  t.true(server.logs.some((line) => /operator API and \/metrics on/.test(String(line.msg))));
  t.is((await api('GET', '/metrics')).status, 401);
  t.is((await api('GET', '/admin/room', { token: 'wrong-token-wrong-token' })).status, 401);
  const page = await fetch(`${server.url}/`, { headers: { 'X-Request-Id': 'page-load-1' } });
  t.is(page.status, 200);
  t.is(page.headers.get('x-request-id'), 'page-load-1');
  const health = await fetch(`${server.url}/health`);
  const generated = health.headers.get('x-request-id') ?? '';
  t.regex(generated, /^[0-9a-f-]{36}$/);
  await api('POST', '/queue/tokens', { body: { userId: 'ann' } });

  const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  t.is(metrics.status, 200);
  const text = await metrics.text();
  const names = new Set(parsePrometheusTextFormat(text).map((family) => family.name));
  for (const name of ['usher_queue_waiting', 'usher_queue_active', 'http_request_duration_seconds', 'process_cpu_seconds_total']) t.true(names.has(name), name);
  t.regex(text, /^usher_queue_active 1$/m);
  t.regex(text, /^http_request_duration_seconds_count\{route="\/",method="GET",status="200"\} 1$/m, 'the page is counted by its path');
  t.regex(text, /^http_request_duration_seconds_count\{route="\/queue\/tokens",method="POST",status="201"\} 1$/m);

  const access = await eventually(async () => {
    const lines = server.logs.filter((line) => typeof line.requestId === 'string' && typeof line.route === 'string');
    return lines.length >= 4 ? lines : undefined;
  });
  t.like(access.find((line) => line.requestId === 'page-load-1'), { method: 'GET', route: '/', status: 200, level: 30 });
  t.like(access.find((line) => line.requestId === generated), { route: '/health', status: 200 });
  t.true(access.every((line) => typeof line.durationMs === 'number'));
  t.false(JSON.stringify(server.logs).includes(ADMIN_TOKEN), 'the admin token is never logged');
});

test.serial('without ADMIN_TOKEN /metrics and /admin/room are 404, as any unknown route', async (t) => {
  const { api } = await start(t, {});
  for (const path of ['/metrics', '/admin/room']) {
    const response = await api('GET', path, { token: ADMIN_TOKEN });
    t.is(response.status, 404);
    t.is(response.body.code, 'NOT_FOUND');
  }
});

test.serial('TOKEN_RATE_PER_MINUTE limits joining per address (429 with Retry-After); TRUST_PROXY=true reads X-Forwarded-For, without it the header is ignored', async (t) => {
  const direct = await start(t, { TOKEN_RATE_PER_MINUTE: '2' });
  const forwarded = (api: typeof direct.api, userId: string, address: string) => api('POST', '/queue/tokens', { body: { userId }, headers: { 'x-forwarded-for': address } });
  t.is((await forwarded(direct.api, 'a1', '203.0.113.1')).status, 201);
  t.is((await forwarded(direct.api, 'a2', '203.0.113.2')).status, 201);
  const refused = await fetch(`${direct.server.url}/queue/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.3' }, body: '{"userId":"a3"}' });
  t.is(refused.status, 429);
  t.regex(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  t.is(((await refused.json()) as { code: string }).code, 'RATE_LIMITED');

  const proxied = await start(t, { TOKEN_RATE_PER_MINUTE: '1', TRUST_PROXY: 'true' });
  t.is((await forwarded(proxied.api, 'b1', '203.0.113.1')).status, 201);
  t.is((await forwarded(proxied.api, 'b2', '203.0.113.1')).status, 429);
  t.is((await forwarded(proxied.api, 'b3', '203.0.113.2')).status, 201, 'another client behind the proxy has its own allowance');
});

test.serial('QUEUE_CHALLENGE=pow: joining needs a solved challenge from GET /queue/challenge', async (t) => {
  const { api } = await start(t, { QUEUE_CHALLENGE: 'pow', QUEUE_CHALLENGE_MAX_NUMBER: '5000' });
  const missing = await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
  t.is(missing.status, 400);
  t.like(missing.body, { code: 'CHALLENGE_FAILED', reason: 'missing' });
  const challenge = (await api('GET', '/queue/challenge')).body as { algorithm: string; challenge: string; salt: string; signature: string; maxnumber: number };
  t.is(challenge.maxnumber, 5_000);
  const { number } = (await solveChallenge(challenge.challenge, challenge.salt, challenge.algorithm, challenge.maxnumber).promise)!;
  const header = Buffer.from(JSON.stringify({ ...challenge, number })).toString('base64');
  t.is((await api('POST', '/queue/tokens', { body: { userId: 'ann' }, headers: { 'x-challenge': header } })).status, 201);
  t.like((await api('POST', '/queue/tokens', { body: { userId: 'bob' }, headers: { 'x-challenge': header } })).body, { code: 'CHALLENGE_FAILED', reason: 'replayed' });
});

test.serial('a short ADMIN_TOKEN stops the start with one sentence naming it', async (t) => {
  const run = await runServerProcess({ DATA_DIR: join(tmpdir(), 'usher-never-made'), ADMIN_TOKEN: 'secret' });
  t.is(run.code, 1);
  t.regex(run.stderr, /^usher cannot start: bad environment: ADMIN_TOKEN: must be at least 16 visible ASCII characters/);
  t.notRegex(run.stderr, /secret/, 'the value is not echoed');
});
