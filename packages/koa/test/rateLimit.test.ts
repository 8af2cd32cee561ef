import test from 'ava';
import { clientKey } from '@usher/koa';
import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { assertProblem, durable, startApi } from './helpers/api.js';
import { capturedLogger } from './helpers/logs.js';

const ADMIN = 'operator-secret-0123456789';
/** A limiter of `points` requests per `duration` seconds (short ones let a test see it recover without a long wait). */
const limiter = (points: number, duration: number, keyPrefix = `test-${points}-${duration}`) =>
  new RateLimiterMemory({ keyPrefix, points, duration });
const join = (
  api: Awaited<ReturnType<typeof startApi>>,
  userId: string,
  headers: Record<string, string> = {},
) => api.http.post('/queue/tokens').set(headers).send({ userId });

/** Waits, on the real clock (the limiter counts with Date.now), at most `ms`, until `check` holds. */
async function within(ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('never held');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test('over the limit POST /queue/tokens is 429 RATE_LIMITED with Retry-After in whole seconds, issues nothing, and recovers once the window passes', async (t) => {
  // A two-second window (real time: the limiter counts with Date.now), long enough for a loaded machine.
  const window = limiter(3, 2);
  const api = await startApi({ app: { tokenLimiter: [window] } });
  t.is((await join(api, 'u1')).status, 201);
  await window.consume('127.0.0.1', 2);
  const before = await durable(api);
  const refused = await join(api, 'u4');
  const problem = assertProblem(t, refused, 'RATE_LIMITED');
  t.regex(refused.headers['retry-after'] ?? '', /^[12]$/, 'whole seconds, at least 1');
  t.regex(problem.detail, /try again in [12] s/);
  t.is(await durable(api), before, 'a refused request issues no token');
  // Only joining is limited: the rest of the API is not.
  t.is((await api.http.get('/health')).status, 200);
  await within(5_000, async () => (await join(api, 'u4')).status === 201);
  t.pass('the limit recovered');
});

test('a burst limiter and a per-minute one: both must let a request through, and the burst refusal spends nothing of the minute', async (t) => {
  const minute = limiter(5, 60, 'minute');
  const burst = limiter(2, 1, 'burst');
  const api = await startApi({ app: { tokenLimiter: [burst, minute] } });
  t.is((await join(api, 'a1')).status, 201);
  await burst.consume('127.0.0.1', 1);
  assertProblem(t, await join(api, 'a3'), 'RATE_LIMITED');
  t.is(
    (await minute.get('127.0.0.1'))?.consumedPoints,
    1,
    'the burst refusal did not count against the minute',
  );
  for (const userId of ['a3', 'a4', 'a5', 'a6'])
    await within(5_000, async () => (await join(api, userId)).status === 201);
  // Past the burst's second, the minute refuses: its Retry-After is the minute's.
  await within(5_000, async () => {
    const over = await join(api, 'a7');
    return over.status === 429 && Number(over.headers['retry-after']) > 50;
  });
});

test('without trustProxy X-Forwarded-For is ignored: every request counts against the connection address', async (t) => {
  const api = await startApi({ app: { tokenLimiter: [limiter(2, 60)] } });
  t.is((await join(api, 'p1', { 'X-Forwarded-For': '203.0.113.1' })).status, 201);
  t.is((await join(api, 'p2', { 'X-Forwarded-For': '203.0.113.2' })).status, 201);
  assertProblem(t, await join(api, 'p3', { 'X-Forwarded-For': '203.0.113.3' }), 'RATE_LIMITED');
});

test('with trustProxy the client is the last X-Forwarded-For address (the one the proxy added): each client has its own allowance', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({
    app: { tokenLimiter: [limiter(1, 60)], trustProxy: true, logger, adminToken: ADMIN },
  });
  t.is((await join(api, 'q1', { 'X-Forwarded-For': '203.0.113.1' })).status, 201);
  assertProblem(t, await join(api, 'q2', { 'X-Forwarded-For': '203.0.113.1' }), 'RATE_LIMITED');
  // A client cannot dodge the limit by writing its own X-Forwarded-For: the proxy appends the real address last.
  assertProblem(
    t,
    await join(api, 'q3', { 'X-Forwarded-For': '198.51.100.7, 203.0.113.1' }),
    'RATE_LIMITED',
  );
  t.is((await join(api, 'q4', { 'X-Forwarded-For': '203.0.113.2' })).status, 201);
  // The same /64 is one client; another /64 is another.
  t.is((await join(api, 'q5', { 'X-Forwarded-For': '2001:db8:1:2::1' })).status, 201);
  assertProblem(
    t,
    await join(api, 'q6', { 'X-Forwarded-For': '2001:db8:1:2:ffff::9' }),
    'RATE_LIMITED',
  );
  t.is((await join(api, 'q7', { 'X-Forwarded-For': '2001:db8:1:3::1' })).status, 201);
  // The operator's log names the forwarded address too.
  await api.http
    .patch('/admin/room')
    .set('Authorization', `Bearer ${ADMIN}`)
    .set('X-Forwarded-For', '192.0.2.50')
    .send({ paused: true });
  t.is(lines.find((line) => line.audit === 'room')?.address, '192.0.2.50');
});

test('with trustProxy a hop that is no address (garbage, 010.8.8.8, 0x0a.8.8.8) is no bucket of its own: it counts as the connection address, logged once a minute', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({ app: { tokenLimiter: [limiter(2, 60)], trustProxy: true, logger } });
  const from = (hop: string, userId: string) => join(api, userId, { 'X-Forwarded-For': hop });
  t.is((await from('garbage', 'r1')).status, 201);
  t.is((await from('1.2.3.4, unknown', 'r2')).status, 201);
  for (const hop of ['010.8.8.8', '0x0a.8.8.8', '10.8.8', '1.2.3.4:99999', '[garbage]:80', ''])
    assertProblem(t, await from(`203.0.113.9, ${hop}`, `r-${hop}`), 'RATE_LIMITED');
  // An address with a port, as some proxies write it, is that address.
  t.is((await from('8.8.8.8:443', 'r3')).status, 201);
  t.is((await from('8.8.8.8', 'r4')).status, 201);
  assertProblem(t, await from('8.8.8.8:80', 'r5'), 'RATE_LIMITED');
  t.is((await from('[2001:db8::1]:443', 'r6')).status, 201);
  t.is((await from('2001:db8:0:0:ffff::3', 'r7')).status, 201);
  assertProblem(t, await from('2001:0db8::9', 'r8'), 'RATE_LIMITED');
  const warnings = lines.filter((line) => /X-Forwarded-For hop is not an address/.test(line.msg));
  t.is(warnings.length, 1, 'once a minute, not once a request');
  t.is(warnings[0]?.level, 40);
  t.is(warnings[0]?.hop, 'garbage');
});

test('client keys: IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', (t) => {
  t.is(clientKey('203.0.113.9'), '203.0.113.9');
  t.is(clientKey('::ffff:203.0.113.9'), '203.0.113.9');
  t.is(clientKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  t.is(clientKey('2001:0db8:0000:0001:abcd::'), '2001:db8:0:1::/64');
  t.is(clientKey('::1'), '0:0:0:0::/64');
  t.is(clientKey('not an address'), 'not an address');
});

test('a limiter whose store fails lets token requests through, counts it in usher_rate_limiter_errors_total, and warns (not once per request)', async (t) => {
  const { logger, lines } = capturedLogger();
  const broken = {
    keyPrefix: 'broken',
    consume: () => Promise.reject(new Error('connection refused')),
  } as unknown as RateLimiterAbstract;
  const api = await startApi({ app: { tokenLimiter: [broken], logger, adminToken: ADMIN } });
  for (const userId of ['f1', 'f2', 'f3']) t.is((await join(api, userId)).status, 201);
  const warnings = lines.filter((line) => line.level === 40);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!.msg, /rate limiter failed/);
  t.is(warnings[0]!.err.message, 'connection refused');
  const metrics = (await api.http.get('/metrics').set('Authorization', `Bearer ${ADMIN}`)).text;
  t.regex(metrics, /^usher_rate_limiter_errors_total 3$/m);
  t.is(api.faults.length, 0);
});

test('refusals are counted in usher_rate_limited_total', async (t) => {
  const api = await startApi({ app: { tokenLimiter: [limiter(1, 60)], adminToken: ADMIN } });
  await join(api, 'r1');
  await join(api, 'r2');
  await join(api, 'r3');
  const metrics = (await api.http.get('/metrics').set('Authorization', `Bearer ${ADMIN}`)).text;
  t.regex(metrics, /^usher_rate_limited_total 2$/m);
});
