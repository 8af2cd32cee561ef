import test from 'ava';
import { Validator } from '@seriousme/openapi-schema-validator';
import { activeToken, bearer, startApi } from './helpers/api.js';

interface Document {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown>; security?: unknown[] }>>;
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

test('the document describes exactly the routes the app serves, with their schemas and problem answers', async (t) => {
  const api = await startApi();
  const document = (await api.http.get('/openapi.json')).body as Document;
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );
  t.deepEqual(operations.map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort(), [
    'DELETE /reservations/{reservationId}',
    'GET /concerts',
    'GET /concerts/{concertId}/schedules',
    'GET /health',
    'GET /openapi.json',
    'GET /queue/tokens/current',
    'GET /queue/tokens/current/events',
    'GET /ready',
    'GET /reservations',
    'GET /reservations/{reservationId}',
    'GET /schedules/{scheduleId}/seats',
    'GET /users/{userId}/balance',
    'POST /payments',
    'POST /queue/tokens',
    'POST /reservations',
    'POST /users/{userId}/balance/charge',
  ]);
  const token = await activeToken(api, 'ann');
  for (const { path, method, operation } of operations) {
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'userId' ? 'ann' : 'x'));
    const call = api.http[method as 'get' | 'post' | 'delete'](url).set(bearer(token));
    const response = await (method === 'post' ? call.send({}) : call);
    t.not(response.body?.code, 'NOT_FOUND', `${method} ${path} is served (a 404 here may only be a missing entity)`);
    t.not(response.status, 405, `${method} ${path} takes ${method}`);
    t.true(String(response.status) in operation.responses, `${method} ${path} documents its ${response.status}`);
    t.true('503' in operation.responses, `${method} ${path} documents 503`);
  }
  for (const name of ['QueueToken', 'Reservation', 'Payment', 'Wallet', 'SeatList', 'ScheduleList', 'ConcertList', 'Problem']) {
    t.truthy(document.components.schemas[name], name);
  }
  for (const [path, status] of [['/payments', '201'], ['/users/{userId}/balance/charge', '200']] as const) {
    const success = document.paths[path]!.post!.responses[status] as { headers?: Record<string, { schema?: unknown }> };
    t.truthy(success.headers?.['Idempotent-Replayed']?.schema, `${path} documents Idempotent-Replayed`);
  }
  t.deepEqual(document.paths['/payments']!.post!.security, [{ queueToken: [] }]);
  t.is(document.paths['/queue/tokens']!.post!.security, undefined);
});
