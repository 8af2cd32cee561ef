import test from 'ava';
import fc from 'fast-check';
import request from 'supertest';
import { userIdProblem } from '@usher/engine';
import { createApp, schemas } from '@usher/koa';
import { userIdPieces } from '@usher/testkit';
import { activeToken, bearer, durable, startApi } from './helpers/api.js';

const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'] as const;
/** Each route with the method it takes. */
const ROUTES: [method: (typeof METHODS)[number], path: string][] = [
  ['POST', '/queue/tokens'],
  ['GET', '/queue/tokens/current'],
  ['GET', '/concerts'],
  ['GET', '/concerts/:id/schedules'],
  ['GET', '/schedules/:id/seats'],
  ['POST', '/reservations'],
  ['GET', '/reservations/:id'],
  ['DELETE', '/reservations/:id'],
  ['POST', '/reservations/:id/extend'],
  ['GET', '/order-limits'],
  ['POST', '/payments'],
  ['GET', '/users/:id/balance'],
  ['POST', '/users/:id/balance/charge'],
  ['GET', '/health'],
  ['GET', '/ready'],
  ['GET', '/openapi.json'],
  // The waitlist (SPEC §11); its event stream stays open, so it is not thrown at here.
  ['POST', '/schedules/:id/waitlist'],
  ['GET', '/schedules/:id/waitlist/me'],
  ['DELETE', '/schedules/:id/waitlist/me'],
];
const visible = (max: number) => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${max}}$`));
const spoofed = fc
  .array(fc.constantFrom(...userIdPieces), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(''));
/** `encodeURIComponent`, and a lone surrogate as the bytes of one (invalid UTF-8). */
const encodePath = (value: string) =>
  [...value]
    .map((character) =>
      /^[\ud800-\udfff]$/.test(character) ? '%ED%A0%80' : encodeURIComponent(character),
    )
    .join('');

test('random requests at every route: never a 5xx, refusals are problem+json, and a refusal changes nothing', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 2, maxChargeAmount: 100_000 } });
  const ann = await activeToken(api, 'ann');
  const bob = await activeToken(api, 'bob');
  const waiting = (await api.http.post('/queue/tokens').send({ userId: 'cat' })).body
    .token as string;
  const hold = (
    await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's1', seatNo: 1 })
  ).body.id as string;
  await api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount: 500 });
  // s3 (one seat) sold out, with bob on its waitlist: joins, reads and leaves meet real entries.
  await api.http.post('/reservations').set(bearer(ann)).send({ scheduleId: 's3', seatNo: 1 });
  await api.http.post('/schedules/s3/waitlist').set(bearer(bob)).send({ quantity: 1 });

  const id = fc.oneof(
    fc.constantFrom('c1', 'c2', 's1', 's2', 's3', 'ann', 'bob', 'cat', hold, ''),
    fc.string({ maxLength: 30 }),
    fc.string({ minLength: 120, maxLength: 300 }),
    fc.stringMatching(/^%[0-9A-Fa-f]?[0-9A-Za-z]?$/),
    spoofed,
  );
  const fill = (path: string, value: string) =>
    path.replace(':id', /^%/.test(value) ? value : encodePath(value));
  const target = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...ROUTES), id)
        .map(([[method, path], value]) => ({ method, path: fill(path, value) })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...METHODS), fc.constantFrom(...ROUTES), id)
        .map(([method, [, path], value]) => ({ method, path: fill(path, value) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...METHODS),
          fc.array(fc.stringMatching(/^[A-Za-z0-9._~%-]{1,12}$/), { maxLength: 5 }),
        )
        .map(([method, segments]) => ({
          method,
          path: `/${segments.join('/')}`,
        })),
    },
  );
  const token = fc.constantFrom(ann, bob, waiting, '', 'not-a-token', 'x'.repeat(300));
  const authorization = fc.option(
    fc.oneof(
      token.map((value) => `Bearer ${value}`),
      fc
        .tuple(fc.constantFrom('Basic', 'Token', 'bearer', ''), visible(40))
        .map(([scheme, rest]) => `${scheme} ${rest}`),
    ),
  );
  const jsonBody = fc.oneof(
    fc.jsonValue(),
    fc.oneof(
      fc
        .tuple(fc.constantFrom('s1', 's2', 's3'), fc.integer({ min: 1, max: 12 }))
        .map(([scheduleId, seatNo]) => ({ scheduleId, seatNo })),
      // Orders (SPEC §10): several seats, and best available.
      fc
        .tuple(
          fc.constantFrom('s1', 's2', 's3'),
          fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 6 }),
        )
        .map(([scheduleId, seatNos]) => ({ scheduleId, seatNos })),
      fc.record(
        {
          scheduleId: fc.constantFrom('s1', 's2', 's3', 'nope'),
          quantity: fc.oneof(fc.integer({ min: -1, max: 6 }), fc.double(), fc.string()),
          category: fc.oneof(fc.constantFrom('VIP', 'R', ''), fc.string(), fc.integer()),
          together: fc.oneof(fc.boolean(), fc.constant('yes'), fc.constant(null)),
          seatNo: fc.integer({ min: 1, max: 3 }),
        },
        { requiredKeys: ['scheduleId'] },
      ),
      fc.integer({ min: 1, max: 120_000 }).map((amount) => ({ amount })),
      // Joining a waitlist.
      fc
        .oneof(fc.integer({ min: -1, max: 6 }), fc.double(), fc.string(), fc.constant(null))
        .map((quantity) => ({ quantity })),
      fc.constantFrom({ reservationId: hold }, { userId: 'dan' }, { userId: 'eve' }),
      spoofed.map((userId) => ({ userId })),
    ),
    fc.record(
      {
        userId: id,
        scheduleId: id,
        seatNo: fc.oneof(
          fc.integer({ min: -5, max: 15 }),
          fc.double(),
          fc.string(),
          fc.constant(null),
        ),
        reservationId: fc.oneof(id, fc.constant(hold)),
        amount: fc.oneof(fc.integer({ min: -10, max: 200_000 }), fc.double(), fc.constant(2 ** 60)),
      },
      { requiredKeys: [] },
    ),
  );
  const body = fc.option(
    fc.oneof(
      { weight: 6, arbitrary: jsonBody.map((value) => JSON.stringify(value) ?? 'null') },
      { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
      {
        weight: 1,
        arbitrary: fc
          .string({ minLength: 1, maxLength: 4 })
          .map((chunk) => `{"userId":"${chunk.repeat(5_000)}"}`),
      },
    ),
  );
  const contentType = fc.option(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant('application/json') },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'application/json; charset=utf-16',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/merge-patch+json',
        ),
      },
    ),
  );
  const request = fc.record({
    target,
    authorization,
    idempotencyKey: fc.option(visible(140)),
    contentType,
    body,
  });

  const seen = new Map<string, number>();
  const run = fc.assert(
    fc.asyncProperty(request, async ({ target: { method, path }, ...r }) => {
      const before = await durable(api);
      let call = api.http[method.toLowerCase() as 'get'](path);
      if (r.authorization !== null) call = call.set('Authorization', r.authorization);
      if (r.idempotencyKey !== null) call = call.set('Idempotency-Key', r.idempotencyKey);
      if (r.contentType !== null) call = call.set('Content-Type', r.contentType);
      const response = await (r.body !== null && method !== 'GET' && method !== 'HEAD'
        ? call.send(r.body)
        : call);
      const key = `${response.status}${response.status >= 400 && method !== 'HEAD' ? ` ${JSON.parse(response.text).code}` : ''}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (response.status >= 500) return false;
      if (response.status < 400) return true;
      if (method === 'HEAD') return (await durable(api)) === before;
      const problem = schemas.Problem.safeParse(JSON.parse(response.text));
      return (
        /^application\/problem\+json/.test(response.headers['content-type'] ?? '') &&
        problem.success &&
        problem.data.status === response.status &&
        (await durable(api)) === before
      );
    }),
    { numRuns: 1_000 },
  );
  await t.notThrowsAsync(run);
  t.deepEqual(api.faults, [], 'no request was a fault');
  t.log(
    [...seen]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([answer, count]) => `${answer}: ${count}`)
      .join(', '),
  );
});

test("random user ids from the host's sign-in (a JWT claim's, say): never a 5xx; one that breaks the user id rule is 401 IDENTITY_INVALID and changes nothing", async (t) => {
  const api = await startApi();
  // The host's user for each request, by a probe header (a header cannot carry every character).
  const users = new Map<string, string>();
  const app = createApp(api.engine, { resolveUserId: (ctx) => users.get(ctx.get('X-Probe')) });
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  const http = request(app.callback());
  let probe = 0;
  const run = fc.assert(
    fc.asyncProperty(
      fc.oneof(spoofed, fc.string({ maxLength: 20 }), fc.constantFrom('ann', 'Jos\u00e9')),
      fc.constantFrom('join', 'balance'),
      async (userId, route) => {
        const key = String(probe++);
        users.set(key, userId);
        const before = await durable(api);
        const response =
          route === 'join'
            ? await http.post('/queue/tokens').set('X-Probe', key).send({})
            : await http
                .get('/users/ann/balance')
                .set('X-Probe', key)
                .set('Authorization', 'Bearer not-a-token');
        if (response.status >= 500) return false;
        if (userIdProblem(userId) === undefined) return response.status < 500;
        return (
          response.status === 401 &&
          JSON.parse(response.text).code === 'IDENTITY_INVALID' &&
          (await durable(api)) === before
        );
      },
    ),
    { numRuns: 300 },
  );
  await t.notThrowsAsync(run);
  t.deepEqual(faults, []);
});
