import test from 'ava';
import { schemas } from '@usher/koa';
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { activeToken, assertProblem, bearer, startApi, until } from './helpers/api.js';

/** The `token` events of a text/event-stream body. */
function tokenEvents(text: string) {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: token\n'))
    .map((block) => schemas.QueueToken.parse(JSON.parse(block.slice(block.indexOf('data: ') + 6))));
}

test('GET /queue/tokens/current/events streams the position as it changes and ends once active', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1_000 } });
  await activeToken(api, 'ann');
  await api.http.post('/queue/tokens').send({ userId: 'bob' });
  const cat = (await api.http.post('/queue/tokens').send({ userId: 'cat' })).body.token as string;
  const streaming = api.http.get('/queue/tokens/current/events').set(bearer(cat)).then((response) => response);
  await until(async () => (await api.engine.stats()).watchedTokens === 1);
  for (let i = 0; i < 3; i++) {
    api.clock.increment(1_000);
    await api.engine.tick();
  }
  const response = await streaming;
  t.is(response.status, 200);
  t.regex(response.headers['content-type'] ?? '', /^text\/event-stream/);
  t.regex(response.text, /^retry: 2000\n\n/);
  const events = tokenEvents(response.text);
  t.deepEqual(
    events.map((view) => [view.status, view.position]),
    [['waiting', 2], ['waiting', 1], ['active', 0]],
  );
});

test('an EventSource may pass the token as ?access_token=; no token or an unknown one is a 401 problem', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const response = await api.http.get(`/queue/tokens/current/events?access_token=${token}`);
  t.deepEqual(tokenEvents(response.text).map((view) => view.status), ['active']);
  assertProblem(t, await api.http.get('/queue/tokens/current/events'), 'TOKEN_MISSING');
  assertProblem(t, await api.http.get('/queue/tokens/current/events?access_token=nope'), 'TOKEN_INVALID');
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
  const response = await new Promise<IncomingMessage>((resolve) => get({ host: '127.0.0.1', port, path: '/queue/tokens/current/events', headers: bearer(bob) }, resolve));
  t.is(response.statusCode, 200);
  const first = await new Promise<string>((resolve) => response.on('data', (chunk: Buffer) => chunk.includes('event: token') && resolve(String(chunk))));
  t.regex(first, /"position":1/);
  t.is((await api.engine.stats()).watchedTokens, 1);
  response.destroy();
  await until(async () => (await api.engine.stats()).watchedTokens === 0);
  t.is((await api.engine.stats()).watchedTokens, 0, 'the watch ended with the connection');
});
