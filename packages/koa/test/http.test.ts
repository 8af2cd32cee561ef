import test from 'ava';
import { EngineError, engineErrorCodes, type Engine, type EngineErrorCode } from '@usher/engine';
import { createApp, problemTable } from '@usher/koa';
import request from 'supertest';
import { activeToken, assertProblem, bearer, startApi } from './helpers/api.js';

test('every engine error code has a status and a title in the one table', (t) => {
  for (const code of engineErrorCodes) {
    const entry = problemTable[code];
    t.truthy(entry, code);
    t.true(entry.status >= 400 && entry.status < 600, code);
  }
  t.deepEqual(
    Object.values(problemTable)
      .filter(({ status }) => status >= 500)
      .map(({ status }) => status)
      .sort(),
    [500, 503, 503],
    'only a fault (500), shutting down and a failed engine (503) are 5xx',
  );
});

test('unknown routes are 404 NOT_FOUND; a known path with another method (OPTIONS too) is 405 with Allow', async (t) => {
  const api = await startApi();
  assertProblem(t, await api.http.get('/nope'), 'NOT_FOUND');
  assertProblem(t, await api.http.post('/concerts/c1'), 'NOT_FOUND');
  const wrong = await api.http.put('/reservations');
  assertProblem(t, wrong, 'METHOD_NOT_ALLOWED');
  t.is(wrong.headers.allow, 'POST, GET');
  const options = await api.http.options('/reservations/abc');
  assertProblem(t, options, 'METHOD_NOT_ALLOWED');
  t.is(options.headers.allow, 'GET, DELETE');
  const head = await api.http.head('/health');
  t.is(head.status, 200);
});

test('a body over 16 KiB is 413; malformed JSON, a non-object, or a non-JSON content type is 400', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const post = () => api.http.post('/reservations').set(bearer(token));
  assertProblem(
    t,
    await post()
      .set('Content-Type', 'application/json')
      .send(`{"scheduleId":"${'x'.repeat(17_000)}","seatNo":1}`),
    'PAYLOAD_TOO_LARGE',
  );
  assertProblem(
    t,
    await post().set('Content-Type', 'application/json').send('{"scheduleId":'),
    'VALIDATION_FAILED',
  );
  assertProblem(
    t,
    await post().set('Content-Type', 'application/json').send('"just a string"'),
    'VALIDATION_FAILED',
  );
  assertProblem(
    t,
    await post().set('Content-Type', 'application/json; charset=latin9').send('{}'),
    'VALIDATION_FAILED',
  );
  const text = assertProblem(
    t,
    await post().set('Content-Type', 'text/plain').send('{"scheduleId":"s1","seatNo":1}'),
    'VALIDATION_FAILED',
  );
  t.regex(text.detail, /Content-Type: application\/json/);
  t.is((await api.engine.stats()).reservations, 0);
  t.deepEqual(api.faults, []);
});

test('an unexpected error is a bare 500 problem: no message, no stack; the app emits it for logging', async (t) => {
  const api = await startApi();
  const broken = new Proxy(api.engine, {
    get: (target, key) =>
      key === 'listConcerts'
        ? () => Promise.reject(new Error('secret: db password is hunter2'))
        : Reflect.get(target, key, target),
  }) as Engine;
  const app = createApp(broken);
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  const token = await activeToken(api, 'ann');
  const response = await request(app.callback()).get('/concerts').set(bearer(token));
  assertProblem(t, response, 'INTERNAL_ERROR');
  t.notRegex(response.text, /hunter2|secret|at /);
  t.is(faults.length, 1);
  t.regex((faults[0] as Error).message, /hunter2/);
});

test('an engine refusal with a code the table does not know is a 500 fault, emitted for logging, not a crash of the error path', async (t) => {
  const api = await startApi();
  const odd = new EngineError(
    'NOT_IN_THE_TABLE' as EngineErrorCode,
    'an engine newer than this adapter',
  );
  const broken = new Proxy(api.engine, {
    get: (target, key) =>
      key === 'listConcerts' ? () => Promise.reject(odd) : Reflect.get(target, key, target),
  }) as Engine;
  const app = createApp(broken);
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  const token = await activeToken(api, 'ann');
  const response = await request(app.callback()).get('/concerts').set(bearer(token));
  assertProblem(t, response, 'INTERNAL_ERROR');
  t.deepEqual(faults, [odd]);
});

test('while shutting down every request is 503 SHUTTING_DOWN with Retry-After, health included', async (t) => {
  let shuttingDown = false;
  const api = await startApi({ app: { isShuttingDown: () => shuttingDown } });
  t.is((await api.http.get('/health')).status, 200);
  shuttingDown = true;
  const health = await api.http.get('/health');
  assertProblem(t, health, 'SHUTTING_DOWN');
  t.is(health.headers['retry-after'], '5');
  assertProblem(t, await api.http.post('/queue/tokens').send({ userId: 'ann' }), 'SHUTTING_DOWN');
});

test('a closed engine answers 503 SHUTTING_DOWN', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  await api.engine.close();
  assertProblem(t, await api.http.get('/concerts').set(bearer(token)), 'SHUTTING_DOWN');
});

test('API answers are not cached and problems use the configured type base', async (t) => {
  const api = await startApi({ app: { problemTypeBase: 'https://docs.example.com/problems/' } });
  const response = await api.http.get('/concerts');
  t.is(response.headers['cache-control'], 'no-store');
  t.is(JSON.parse(response.text).type, 'https://docs.example.com/problems/token-missing');
});

test('an id over 128 characters in any path is 400 VALIDATION_FAILED, before anything is looked up', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const long = 'x'.repeat(129);
  for (const [method, path] of [
    ['get', `/concerts/${long}/schedules`],
    ['get', `/schedules/${long}/seats`],
    ['get', `/reservations/${long}`],
    ['delete', `/reservations/${long}`],
    ['get', `/users/${long}/balance`],
    ['post', `/users/${long}/balance/charge`],
  ] as const) {
    const call = api.http[method](path).set(bearer(token));
    const problem = assertProblem(
      t,
      await (method === 'post' ? call.send({ amount: 1 }) : call),
      'VALIDATION_FAILED',
    );
    t.regex(problem.errors?.[0]?.path ?? '', /^path\./, path);
  }
});

test('a body that cannot be decoded (a wrong Content-Encoding) is 400, not a fault', async (t) => {
  const api = await startApi();
  const token = await activeToken(api, 'ann');
  const post = () =>
    api.http
      .post('/users/ann/balance/charge')
      .set(bearer(token))
      .set('Content-Type', 'application/json');
  assertProblem(
    t,
    await post().set('Content-Encoding', 'gzip').send('{"amount":1}'),
    'VALIDATION_FAILED',
  );
  assertProblem(t, await post().set('Content-Encoding', 'br').send('garbage'), 'VALIDATION_FAILED');
  assertProblem(
    t,
    await post().set('Content-Encoding', 'deflate').send('{"amount":1}'),
    'VALIDATION_FAILED',
  );
  t.is(
    (await api.http.get('/users/ann/balance').set(bearer(token))).body.balance,
    0,
    'nothing was charged',
  );
});
