import test from 'ava';
import fc from 'fast-check';
import { CompactSign } from 'jose';
import request from 'supertest';
import { createEngine, MemoryStore, userIdProblem } from '@usher/engine';
import { createApp } from '@usher/koa';
import { userIdPieces } from '@usher/testkit';
import { identityResolver, IDENTITY_HEADER } from '../src/identity.js';

/**
 * Random JWT claims, really signed (HS256, jose), through the server's sign-in
 * (`identityResolver`) and the real app: whatever `sub`, `exp`, `iat`, `nbf`,
 * `iss` or `aud` hold, no answer is a 5xx, and a user id the user id rule
 * refuses never joins the line.
 */
const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';

test('random JWT claims: never a 5xx; a refused sign-in is 401 problem+json; only a user id the rule takes joins', async (t) => {
  const engine = await createEngine({ store: new MemoryStore() });
  t.teardown(() => engine.close());
  const app = createApp(engine, {
    resolveUserId: identityResolver({
      userClaim: 'sub',
      secret: SECRET,
      issuer: 'https://id.example',
      audience: 'usher',
    })!,
  });
  const faults: unknown[] = [];
  app.on('error', (error) => faults.push(error));
  const http = request(app.callback());
  const now = Math.floor(Date.now() / 1_000);
  const time = fc.oneof(
    fc.integer({ min: now - 400 * 86_400, max: now + 400 * 86_400 }),
    fc.integer({ min: now - 120, max: now + 120 }),
    fc.double(),
    fc.constantFrom(null, 'soon', -1, 0, 2 ** 53, Number.MAX_VALUE, true),
  );
  const claims = fc.record(
    {
      sub: fc.oneof(
        fc
          .array(fc.constantFrom(...userIdPieces), { minLength: 1, maxLength: 6 })
          .map((parts) => parts.join('')),
        fc.string({ maxLength: 140 }),
        fc.constantFrom('ann', '', 42, null, ['ann'], { id: 'ann' }),
      ),
      exp: time,
      iat: time,
      nbf: time,
      iss: fc.constantFrom('https://id.example', 'https://evil.example', 7),
      aud: fc.constantFrom('usher', 'some-other-app', ['usher', 'x'], [], 3),
    },
    { requiredKeys: [] },
  );
  const run = fc.assert(
    fc.asyncProperty(claims, async (payload) => {
      // Signed as bytes: jose's SignJWT would refuse some of these claims before the server sees them.
      const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(SECRET));
      const response = await http.post('/queue/tokens').set(IDENTITY_HEADER, jwt).send({});
      if (response.status >= 500) return false;
      if (response.status === 201 || response.status === 200)
        return userIdProblem(payload.sub) === undefined && response.body.userId === payload.sub;
      return (
        response.status === 401 &&
        /^application\/problem\+json/.test(response.headers['content-type'] ?? '') &&
        JSON.parse(response.text).code === 'IDENTITY_INVALID'
      );
    }),
    { numRuns: 400 },
  );
  await t.notThrowsAsync(run);
  t.deepEqual(faults, []);
});
