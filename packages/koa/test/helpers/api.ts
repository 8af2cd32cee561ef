import type { ExecutionContext } from 'ava';
import request, { type Response } from 'supertest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { createEngine, MemoryStore, type CatalogInput, type Engine, type EngineConfig } from '@usher/engine';
import { createApp, problemTable, schemas, type AppOptions, type ProblemCode } from '@usher/koa';
import { withRoom, type RoomDouble } from './roomDouble.js';

export const START = Date.UTC(2026, 10, 24);

export const catalog: CatalogInput = {
  concerts: [
    { id: 'c1', title: 'Spring Concert', artist: 'IU' },
    { id: 'c2', title: 'Autumn Concert' },
  ],
  schedules: [
    { id: 's1', concertId: 'c1', startsAt: '2027-05-01T19:00:00+09:00', totalSeats: 10, price: 1_000 },
    { id: 's2', concertId: 'c1', startsAt: '2027-04-30T19:00:00+09:00', totalSeats: 5, price: 3_000 },
    { id: 's3', concertId: 'c2', startsAt: '2027-10-01T19:00:00+09:00', totalSeats: 1, price: 500 },
  ],
};

export interface Api {
  readonly app: ReturnType<typeof createApp>;
  readonly engine: Engine;
  readonly clock: SimulatedClock;
  readonly store: MemoryStore;
  readonly http: ReturnType<typeof request>;
  /** Unexpected errors the app emitted. */
  readonly faults: unknown[];
  /** The engine the app was given: with `room: true`, the room test double around {@link engine}. */
  readonly served: Engine | RoomDouble;
}

/** The real Koa app over an engine on a simulated clock, driven through `app.callback()` (no port). */
export async function startApi(
  options: { config?: Partial<EngineConfig>; app?: AppOptions; room?: boolean | Parameters<typeof withRoom>[1] } = {},
): Promise<Api> {
  const clock = new SimulatedClock();
  clock.set(START);
  const store = new MemoryStore();
  const engine = await createEngine({
    clock,
    store,
    config: { queueTickMs: 3_600_000, holdSweepMs: 3_600_000, ...options.config },
  });
  await engine.loadCatalog(catalog);
  // Until the engine side of issue 12 is merged, the room's part of the engine is a test double (see roomDouble.ts).
  const served = options.room ? withRoom(engine, options.room === true ? {} : options.room) : engine;
  const app = createApp(served, options.app);
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  return { app, engine, clock, store, http: request(app.callback()), faults, served };
}

/** Waits, turn by turn of the event loop (no timers), until `check` holds. */
export async function until(check: () => Promise<boolean>, turns = 1_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the condition never held');
}

/** Queues `userId` and runs ticks until the token is active. */
export async function activeToken(api: Api, userId: string): Promise<string> {
  const issued = await api.http.post('/queue/tokens').send({ userId });
  let token = issued.body as z.infer<typeof schemas.QueueToken>;
  while (token.status === 'waiting') {
    await api.engine.tick();
    token = (await api.http.get('/queue/tokens/current').set(bearer(token.token))).body;
  }
  return token.token;
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Asserts a success answer: status, JSON, and a body that matches its documented schema. */
export function assertAnswer<T>(t: ExecutionContext, response: Response, status: number, schema: z.ZodType<T>): T {
  t.is(response.status, status, JSON.stringify(response.body));
  t.regex(response.headers['content-type'] ?? '', /^application\/json/);
  const parsed = schema.safeParse(response.body);
  t.true(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  return response.body as T;
}

/** Asserts an RFC 9457 answer with `code`, its status from the one table, and the documented Problem shape. */
export function assertProblem(t: ExecutionContext, response: Response, code: ProblemCode): z.infer<typeof schemas.Problem> {
  t.is(response.status, problemTable[code].status, JSON.stringify(response.body));
  t.regex(response.headers['content-type'] ?? '', /^application\/problem\+json/);
  const body = JSON.parse(response.text) as z.infer<typeof schemas.Problem>;
  t.true(schemas.Problem.safeParse(body).success);
  t.is(body.code, code);
  t.is(body.status, response.status);
  t.is(body.title, problemTable[code].title);
  t.true(body.detail.length > 0);
  return body;
}

/** The durable state, to show that a refused request changed nothing. */
export async function durable(api: Api): Promise<string> {
  const contents = (await api.store.load())!;
  return JSON.stringify(Object.entries(contents).map(([name, map]) => [name, [...map]]));
}
