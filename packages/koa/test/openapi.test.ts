import test from 'ava';
import { Validator } from '@seriousme/openapi-schema-validator';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { createApp } from '@usher/koa';
import { activeToken, assertProblem, bearer, startApi } from './helpers/api.js';

interface Document {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      { operationId: string; responses: Record<string, unknown>; security?: unknown[] }
    >
  >;
  components: { schemas: Record<string, unknown> };
}

test('GET /openapi.json is a valid OpenAPI 3.1 document', async (t) => {
  const api = await startApi();
  const response = await api.http.get('/openapi.json');
  t.is(response.status, 200);
  const result = await new Validator().validate(response.body);
  t.true(result.valid, JSON.stringify(result.errors));
  t.is(response.body.openapi, '3.1.0');
});

const everything = () => ({
  app: {
    adminToken: 'operator-secret-0123456789',
    scannerToken: 'scanner-secret-0123456789',
    tokenLimiter: [new RateLimiterMemory({ points: 100, duration: 60 })],
    challenge: { hmacKey: 'k', maxNumber: 10 },
  },
});

for (const [name, options, extra] of [
  ['', {}, []],
  [
    ' (operator routes, limit and proof of work on)',
    everything(),
    [
      'GET /admin/room',
      'GET /admin/rooms',
      'GET /admin/rooms/{roomId}',
      'GET /metrics',
      'GET /queue/challenge',
      'PATCH /admin/room',
      'PATCH /admin/rooms/{roomId}',
      'POST /admin/rooms/{roomId}/codes',
      'POST /admin/tickets/{ticketId}/refund',
      'POST /checkin',
    ],
  ],
] as const)
  test(`the document describes exactly the routes the app serves, with their schemas and problem answers${name}`, async (t) => {
    const api = await startApi(options);
    const document = (await api.http.get('/openapi.json')).body as Document;
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );
    t.deepEqual(
      operations.map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort(),
      [
        ...extra,
        'DELETE /reservations/{reservationId}',
        'GET /.well-known/jwks.json',
        'GET /concerts',
        'GET /concerts/{concertId}/schedules',
        'GET /health',
        'HEAD /health',
        'GET /openapi.json',
        'GET /order-limits',
        'GET /queue/tokens/current',
        'GET /queue/tokens/current/events',
        'GET /ready',
        'HEAD /ready',
        'GET /reservations',
        'GET /reservations/{reservationId}',
        'GET /tickets',
        'POST /tickets/{ticketId}/refund',
        'POST /tickets/{ticketId}/transfer',
        'GET /schedules/{scheduleId}/seats',
        'POST /schedules/{scheduleId}/waitlist',
        'GET /schedules/{scheduleId}/waitlist/me',
        'DELETE /schedules/{scheduleId}/waitlist/me',
        'GET /schedules/{scheduleId}/waitlist/me/events',
        'GET /users/{userId}/balance',
        'POST /payments',
        'POST /queue/tokens',
        'POST /reservations',
        'POST /reservations/{reservationId}/extend',
        'POST /users/{userId}/balance/charge',
      ].sort(),
    );
    const token = await activeToken(api, 'ann');
    for (const { path, method, operation } of operations) {
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) =>
        name === 'userId' ? 'ann' : 'x',
      );
      const call = api.http[method as 'get' | 'head' | 'post' | 'delete' | 'patch'](url).set(
        bearer(token),
      );
      const response = await (method === 'post' || method === 'patch' ? call.send({}) : call);
      t.not(
        response.body?.code,
        'NOT_FOUND',
        `${method} ${path} is served (a 404 here may only be a missing entity)`,
      );
      t.not(response.status, 405, `${method} ${path} takes ${method}`);
      t.true(
        String(response.status) in operation.responses,
        `${method} ${path} documents its ${response.status}`,
      );
      t.true('503' in operation.responses, `${method} ${path} documents 503`);
    }
    for (const name of [
      'QueueToken',
      'Reservation',
      'Payment',
      'Wallet',
      'SeatList',
      'ScheduleList',
      'ConcertList',
      'Problem',
    ]) {
      t.truthy(document.components.schemas[name], name);
    }
    for (const [path, status] of [
      ['/payments', '201'],
      ['/users/{userId}/balance/charge', '200'],
    ] as const) {
      const success = document.paths[path]!.post!.responses[status] as {
        headers?: Record<string, { schema?: unknown }>;
      };
      t.truthy(
        success.headers?.['Idempotent-Replayed']?.schema,
        `${path} documents Idempotent-Replayed`,
      );
    }
    t.deepEqual(document.paths['/payments']!.post!.security, [{ queueToken: [] }]);
    t.is(document.paths['/queue/tokens']!.post!.security, undefined);
  });

test('with an admin token, a limiter and proof of work, the document has the operator routes, /metrics and /queue/challenge, and says what joining needs', async (t) => {
  const api = await startApi(everything());
  const document = (await api.http.get('/openapi.json')).body as Document & {
    components: { securitySchemes: Record<string, unknown> };
  };
  const result = await new Validator().validate(document as unknown as Record<string, unknown>);
  t.true(result.valid, JSON.stringify(result.errors));
  t.truthy(document.paths['/admin/room']?.get);
  t.truthy(document.paths['/admin/room']?.patch);
  t.truthy(document.paths['/metrics']?.get);
  t.truthy(document.paths['/queue/challenge']?.get);
  for (const operation of [
    document.paths['/admin/room']!.get!,
    document.paths['/admin/room']!.patch!,
    document.paths['/metrics']!.get!,
  ]) {
    t.deepEqual(operation.security, [{ adminToken: [] }]);
    t.truthy(operation.responses['401'], `${operation.operationId} documents 401`);
  }
  const refused = document.paths['/admin/room']!.patch!.responses['400'] as { description: string };
  t.regex(
    refused.description,
    /VALIDATION_FAILED/,
    'a bad setting is VALIDATION_FAILED, whichever layer refuses it',
  );
  t.notRegex(refused.description, /INVALID_ARGUMENT/);
  t.truthy(document.components.securitySchemes.adminToken);
  const join = document.paths['/queue/tokens']!.post! as unknown as {
    parameters: { name: string; in: string; required?: boolean }[];
    responses: Record<string, { headers?: Record<string, unknown>; description: string }>;
  };
  t.like(
    join.parameters.find((parameter) => parameter.name === 'X-Challenge'),
    { in: 'header', required: true },
  );
  t.truthy(join.responses['429']?.headers?.['Retry-After'], '429 documents Retry-After');
  t.regex(join.responses['400']!.description, /CHALLENGE_FAILED/);
  t.truthy(document.components.schemas.Room);
  t.truthy(document.components.schemas.RoomSettingsPatch);
  t.truthy(document.components.schemas.Challenge);
  // Every operation says an answer carries X-Request-Id.
  const success = document.paths['/health']!.get!.responses['200'] as {
    headers?: Record<string, unknown>;
  };
  t.truthy(success.headers?.['X-Request-Id']);
});

test("the event stream's `?access_token=` is a declared security scheme, and its 200 is a text/event-stream", async (t) => {
  const api = await startApi();
  const document = (await api.http.get('/openapi.json')).body as Document & {
    components: { securitySchemes: Record<string, unknown> };
  };
  const stream = document.paths['/queue/tokens/current/events']!.get! as unknown as {
    security: Record<string, string[]>[];
    parameters?: { name: string; in: string }[];
    responses: Record<string, { content: Record<string, { schema: { type?: string } }> }>;
  };
  t.deepEqual(stream.security, [{ queueToken: [] }, { queueTokenQuery: [] }]);
  t.deepEqual(document.components.securitySchemes.queueTokenQuery, {
    type: 'apiKey',
    in: 'query',
    name: 'access_token',
    description:
      'The queue token as `?access_token=`, for `EventSource`, which cannot send headers',
  });
  t.false(
    (stream.parameters ?? []).some((parameter) => parameter.name === 'access_token'),
    'the security scheme declares it, not a parameter',
  );
  t.deepEqual(Object.keys(stream.responses['200']!.content), ['text/event-stream']);
  t.is(stream.responses['200']!.content['text/event-stream']!.schema.type, 'string');
});

test('HEAD and OPTIONS are answered only where the document declares them: HEAD of the probes; elsewhere 405 with the declared methods in Allow', async (t) => {
  const api = await startApi();
  const document = (await api.http.get('/openapi.json')).body as Document;
  t.truthy(document.paths['/health']!.head, 'HEAD /health is declared');
  t.truthy(document.paths['/ready']!.head, 'HEAD /ready is declared');
  t.is((await api.http.head('/health')).status, 200);
  t.is((await api.http.head('/ready')).status, 200);
  for (const [path, allow] of [
    ['/concerts', 'GET'],
    ['/reservations/abc', 'GET, DELETE'],
    ['/openapi.json', 'GET'],
  ] as const) {
    const methods = Object.keys(document.paths[path.replace('abc', '{reservationId}')]!);
    t.false(methods.includes('head') || methods.includes('options'), path);
    const head = await api.http.head(path);
    t.is(head.status, 405, `HEAD ${path}`);
    t.is(head.headers.allow, allow);
    const options = await api.http.options(path);
    assertProblem(t, options, 'METHOD_NOT_ALLOWED');
    t.is(options.headers.allow, allow);
  }
  t.is((await api.http.options('/health')).headers.allow, 'HEAD, GET');
});

test("`basePath` (where the host mounts the app) is the document's `servers`: generated clients call the right URLs", async (t) => {
  const mounted = await startApi({ app: { basePath: '/tickets' } });
  t.deepEqual((await mounted.http.get('/openapi.json')).body.servers, [{ url: '/tickets' }]);
  const plain = await startApi();
  t.is((await plain.http.get('/openapi.json')).body.servers, undefined, 'at the root: none');
  t.throws(() => createApp(plain.engine, { basePath: 'tickets/' }), {
    message: /basePath must start with \/ and not end with one/,
  });
});
