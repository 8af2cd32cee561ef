import test from 'ava';
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { activeToken, assertProblem, bearer, startApi, until } from './helpers/api.js';
import { listening, openStream, tokenEvents, within } from './helpers/streams.js';

test('GET /queue/tokens/current/events streams the position as it changes and ends once active', async (t) => {
  const api = await startApi({
    config: { queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1_000 },
  });
  await activeToken(api, 'ann');
  await api.http.post('/queue/tokens').send({ userId: 'bob' });
  const cat = (await api.http.post('/queue/tokens').send({ userId: 'cat' })).body.token as string;
  // The first event is read before the clock moves: on PostgreSQL the watch is counted before the
  // stream's first read, so waiting for the count alone let a tick slip in before `waiting 2` was sent.
  const port = await listening(t, api);
  const stream = await openStream(port, cat);
  t.teardown(() => stream.response.destroy());
  for (let i = 0; i < 3; i++) {
    api.clock.increment(1_000);
    await api.engine.tick();
  }
  t.is(await stream.ended, 'end');
  t.is(stream.response.statusCode, 200);
  t.regex(stream.response.headers['content-type'] ?? '', /^text\/event-stream/);
  t.regex(stream.text(), /^retry: 2000\n\n/);
  const events = tokenEvents(stream.text());
  t.deepEqual(
    events.map((view) => [view.status, view.position]),
    [
      ['waiting', 2],
      ['waiting', 1],
      ['active', 0],
    ],
  );
});

test('an EventSource may pass the token as ?access_token=; no token or an unknown one is a 401 problem', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const response = await api.http.get(`/queue/tokens/current/events?access_token=${token}`);
  t.deepEqual(
    tokenEvents(response.text).map((view) => view.status),
    ['active'],
  );
  assertProblem(t, await api.http.get('/queue/tokens/current/events'), 'TOKEN_MISSING');
  assertProblem(
    t,
    await api.http.get('/queue/tokens/current/events?access_token=nope'),
    'TOKEN_INVALID',
  );
  assertProblem(t, await api.http.get(`/concerts?access_token=${token}`), 'TOKEN_MISSING');
});

test('a client that goes away stops the watch', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 1 } });
  await activeToken(api, 'ann');
  const bob = (await api.http.post('/queue/tokens').send({ userId: 'bob' })).body.token as string;
  const server = api.app.listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const response = await new Promise<IncomingMessage>((resolve) =>
    get(
      { host: '127.0.0.1', port, path: '/queue/tokens/current/events', headers: bearer(bob) },
      resolve,
    ),
  );
  t.is(response.statusCode, 200);
  const first = await new Promise<string>((resolve) =>
    response.on(
      'data',
      (chunk: Buffer) => chunk.includes('event: token') && resolve(String(chunk)),
    ),
  );
  t.regex(first, /"position":1/);
  t.is((await api.engine.stats()).watchedTokens, 1);
  response.destroy();
  await until(async () => (await api.engine.stats()).watchedTokens === 0);
  t.is((await api.engine.stats()).watchedTokens, 0, 'the watch ended with the connection');
});

test('a fourth stream for one token ends the oldest; the other three stay open and get the next event', async (t) => {
  const api = await startApi({
    config: { queueMaxActive: 1, tokenActiveTtlMs: 1_000 },
    app: { maxStreamsPerToken: 3 },
  });
  await activeToken(api, 'ann');
  await api.http.post('/queue/tokens').send({ userId: 'bob' });
  const cat = (await api.http.post('/queue/tokens').send({ userId: 'cat' })).body.token as string;
  const dan = (await api.http.post('/queue/tokens').send({ userId: 'dan' })).body.token as string;
  const port = await listening(t, api);
  const streams: Awaited<ReturnType<typeof openStream>>[] = [];
  for (let i = 0; i < 4; i++) streams.push(await openStream(port, cat));
  const other = await openStream(port, dan);
  t.teardown(() => [...streams, other].forEach((stream) => stream.response.destroy()));
  t.is(
    await within(streams[0]!.ended, 2_000),
    'end',
    'the oldest ended normally: the browser reconnects',
  );
  t.regex(streams[0]!.text(), /"status":"waiting","position":2/, 'it was still waiting');
  // ann's turn ends, a tick moves everyone up: the three newer streams (and dan's) get it.
  api.clock.increment(1_000);
  await api.engine.tick();
  for (const stream of streams.slice(1))
    await until(async () => stream.text().includes('"status":"waiting","position":1'));
  await until(async () => other.text().includes('"status":"waiting","position":2'));
  t.true(
    [...streams.slice(1), other].every((stream) => !stream.response.complete),
    'the others are still open',
  );
});

test('a stream ends by itself after its maximum lifetime, with the token still waiting', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 1 }, app: { streamMaxLifetimeMs: 200 } });
  await activeToken(api, 'ann');
  const bob = (await api.http.post('/queue/tokens').send({ userId: 'bob' })).body.token as string;
  const port = await listening(t, api);
  const started = performance.now();
  const stream = await openStream(port, bob);
  t.teardown(() => stream.response.destroy());
  t.is(
    await within(stream.ended, 2_000),
    'end',
    'a normal end: EventSource reconnects after `retry`',
  );
  const lived = performance.now() - started;
  t.true(lived >= 150 && lived < 2_000, `lived ${Math.round(lived)} ms`);
  t.regex(stream.text(), /^retry: 2000\n\n/);
  t.deepEqual(
    tokenEvents(stream.text()).map((view) => view.status),
    ['waiting'],
    'no last event: the token is not done',
  );
  await until(async () => (await api.engine.stats()).watchedTokens === 0);
  t.is((await api.http.get('/queue/tokens/current').set(bearer(bob))).body.status, 'waiting');
});
