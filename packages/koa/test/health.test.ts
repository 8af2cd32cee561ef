import test from 'ava';
import { MemoryStore, createEngine, type Change } from '@usher/engine';
import { createApp, schemas } from '@usher/koa';
import request from 'supertest';
import { SimulatedClock } from 'xstate';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  catalog,
  START,
  startApi,
} from './helpers/api.js';

/** A store whose disk fails on demand. */
class FailingStore extends MemoryStore {
  failing = false;
  override append(changes: readonly Change[]): Promise<void> {
    return this.failing
      ? Promise.reject(new Error('ENOSPC: no space left on device'))
      : super.append(changes);
  }
}

test('GET /ready and GET /health answer 200 while the engine is ok', async (t) => {
  const api = await startApi();
  t.deepEqual(assertAnswer(t, await api.http.get('/ready'), 200, schemas.Ready), {
    status: 'ready',
  });
  t.deepEqual(assertAnswer(t, await api.http.get('/health'), 200, schemas.Health), {
    status: 'ok',
  });
  t.deepEqual(api.faults, []);
});

test('after a store failure /ready and /health are 503 UNAVAILABLE with Retry-After, and so is every engine route', async (t) => {
  const clock = new SimulatedClock();
  clock.set(START);
  const store = new FailingStore();
  const engine = await createEngine({
    clock,
    store,
    config: { queueTickMs: 3_600_000, holdSweepMs: 3_600_000 },
  });
  await engine.loadCatalog(catalog);
  const app = createApp(engine);
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  const http = request(app.callback());
  const token = (await http.post('/queue/tokens').send({ userId: 'ann' })).body.token as string;

  store.failing = true;
  const charge = await http
    .post('/users/ann/balance/charge')
    .set(bearer(token))
    .send({ amount: 100 });
  assertProblem(t, charge, 'UNAVAILABLE');
  t.is(charge.headers['retry-after'], '5');
  store.failing = false;
  for (const path of ['/ready', '/health']) {
    const response = await http.get(path);
    const problem = assertProblem(t, response, 'UNAVAILABLE');
    t.is(response.headers['retry-after'], '5', path);
    t.notRegex(
      problem.detail,
      /ENOSPC/,
      `${path}: why is for the operator's log (engine.health.reason), not for clients`,
    );
  }
  assertProblem(t, await http.get('/concerts').set(bearer(token)), 'UNAVAILABLE');
  t.like(engine.health, { status: 'failed', reason: 'ENOSPC: no space left on device' });
  t.deepEqual(faults, [], 'a failed engine is a refusal, not a fault of the app');
  await engine.close();
  assertProblem(t, await http.get('/ready'), 'UNAVAILABLE');
});

test('/ready is 503 SHUTTING_DOWN during a graceful shutdown and once the engine is closing', async (t) => {
  let shuttingDown = false;
  const api = await startApi({ app: { isShuttingDown: () => shuttingDown } });
  const token = await activeToken(api, 'ann');
  shuttingDown = true;
  assertProblem(t, await api.http.get('/ready'), 'SHUTTING_DOWN');
  shuttingDown = false;
  t.is((await api.http.get('/ready')).status, 200);
  await api.engine.close();
  assertProblem(t, await api.http.get('/ready'), 'SHUTTING_DOWN');
  assertProblem(t, await api.http.get('/health'), 'SHUTTING_DOWN');
  assertProblem(t, await api.http.get('/concerts').set(bearer(token)), 'SHUTTING_DOWN');
});
