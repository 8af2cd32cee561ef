import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { generateKeyPair, SignJWT } from 'jose';
import { readConfig } from '../src/config.js';
import { jwksProvider } from './helpers/jwks.js';
import {
  runServerProcess,
  startServerProcess,
  type ServerProcess,
} from './helpers/serverProcess.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';

async function server(
  t: ExecutionContext,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-identity-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const running = await startServerProcess({ DATA_DIR, ...env });
  t.teardown(() => running.process.kill('SIGKILL'));
  return running;
}

const hs256 = (
  claims: Record<string, unknown>,
  options: { secret?: string; expiresIn?: string | number } = {},
) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '10m')
    .sign(new TextEncoder().encode(options.secret ?? SECRET));

interface Call {
  readonly status: number;
  readonly body: Record<string, unknown>;
}
async function call(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Call> {
  const response = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
const queue = (url: string, headers: Record<string, string>, body: unknown = {}) =>
  call(url, '/queue/tokens', { method: 'POST', headers, body });
const refused = (
  t: ExecutionContext,
  answer: Call,
  status: number,
  code: string,
  message?: string,
) => {
  t.is(answer.status, status, message ?? JSON.stringify(answer.body));
  t.is(answer.body.code, code, message ?? JSON.stringify(answer.body));
};

test('demo mode (no AUTH_ variable): the body userId is taken on trust, and the log says so', async (t) => {
  const { url, logs } = await server(t);
  const ann = await queue(url, {}, { userId: 'ann' });
  t.is(ann.status, 201);
  t.is(ann.body.userId, 'ann');
  // The flaw demo mode keeps, on purpose: anyone naming ann is ann.
  t.is((await queue(url, {}, { userId: 'ann' })).body.token, ann.body.token);
  t.true(logs.some((entry) => /identity: DEMO mode/.test(String(entry.msg))));
});

test('AUTH_JWT_SECRET: a verified HS256 JWT names the user; missing, forged or expired is 401, another user is 403', async (t) => {
  const { url, logs } = await server(t, { AUTH_JWT_SECRET: SECRET });
  t.true(logs.some((entry) => /identity: signed-in mode, the sub claim/.test(String(entry.msg))));
  const annJwt = await hs256({ sub: 'ann' });
  const bobJwt = await hs256({ sub: 'bob' });

  const ann = await queue(url, { 'X-User-Token': annJwt });
  t.is(ann.status, 201, JSON.stringify(ann.body));
  t.is(ann.body.userId, 'ann');
  t.is(
    (await queue(url, { 'X-User-Token': annJwt }, { userId: 'ann' })).status,
    200,
    'her own userId in the body is fine',
  );

  refused(
    t,
    await queue(url, {}, { userId: 'ann' }),
    401,
    'IDENTITY_MISSING',
    'no JWT: the body userId is not enough',
  );
  refused(
    t,
    await queue(url, {
      'X-User-Token': await hs256(
        { sub: 'ann' },
        { secret: 'another-secret-of-at-least-32-bytes!!' },
      ),
    }),
    401,
    'IDENTITY_INVALID',
    'signed with another secret',
  );
  refused(
    t,
    await queue(url, {
      'X-User-Token': await hs256(
        { sub: 'ann' },
        { expiresIn: Math.floor(Date.now() / 1000) - 60 },
      ),
    }),
    401,
    'IDENTITY_INVALID',
    'expired',
  );
  refused(
    t,
    await queue(url, { 'X-User-Token': 'not.a.jwt' }),
    401,
    'IDENTITY_INVALID',
    'malformed',
  );
  refused(
    t,
    await queue(url, { 'X-User-Token': await hs256({ name: 'ann' }) }),
    401,
    'IDENTITY_INVALID',
    'no sub claim',
  );
  refused(
    t,
    await queue(url, { 'X-User-Token': annJwt }, { userId: 'bob' }),
    403,
    'FORBIDDEN',
    "bob's userId with ann's JWT",
  );

  // Ann's queue token works for ann only: not for bob, not for nobody.
  const token = { Authorization: `Bearer ${String(ann.body.token)}` };
  t.is(
    (await call(url, '/queue/tokens/current', { headers: { ...token, 'X-User-Token': annJwt } }))
      .status,
    200,
  );
  refused(
    t,
    await call(url, '/queue/tokens/current', { headers: { ...token, 'X-User-Token': bobJwt } }),
    403,
    'FORBIDDEN',
    "ann's queue token with bob's JWT",
  );
  refused(
    t,
    await call(url, '/users/ann/balance', { headers: { ...token, 'X-User-Token': bobJwt } }),
    403,
    'FORBIDDEN',
    "ann's wallet with bob's JWT",
  );
  refused(
    t,
    await call(url, '/queue/tokens/current', { headers: token }),
    401,
    'IDENTITY_MISSING',
    "ann's queue token without a JWT",
  );

  // The cookie works as the header does.
  const cookie = await queue(url, { Cookie: `usher_identity=${bobJwt}` });
  t.is(cookie.status, 201);
  t.is(cookie.body.userId, 'bob');
  refused(
    t,
    await call(url, '/queue/tokens/current', {
      headers: { ...token, Cookie: `usher_identity=${bobJwt}` },
    }),
    403,
    'FORBIDDEN',
  );

  // Routes that act for nobody do not ask.
  t.is((await call(url, '/health', { headers: { 'X-User-Token': 'garbage' } })).status, 200);
});

test('AUTH_JWKS_URL: a JWT signed with the provider key verifies against its JWKS; issuer, audience and AUTH_USER_CLAIM are checked', async (t) => {
  const { url: AUTH_JWKS_URL, privateKey } = await jwksProvider(t);
  const { url } = await server(t, {
    AUTH_JWKS_URL,
    AUTH_USER_CLAIM: 'preferred_username',
    AUTH_ISSUER: 'https://id.example',
    AUTH_AUDIENCE: 'usher',
  });
  const sign = (
    claims: Record<string, unknown>,
    issuer = 'https://id.example',
    audience = 'usher',
    key: CryptoKey = privateKey,
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(key);

  const ann = await queue(url, {
    'X-User-Token': await sign({ sub: 'u-1', preferred_username: 'ann' }),
  });
  t.is(ann.status, 201, JSON.stringify(ann.body));
  t.is(ann.body.userId, 'ann', 'the configured claim, not sub');
  refused(
    t,
    await queue(url, {
      'X-User-Token': await sign({ preferred_username: 'ann' }, 'https://evil.example'),
    }),
    401,
    'IDENTITY_INVALID',
    'another issuer',
  );
  refused(
    t,
    await queue(url, {
      'X-User-Token': await sign({ preferred_username: 'ann' }, 'https://id.example', 'other-app'),
    }),
    401,
    'IDENTITY_INVALID',
    'another audience',
  );
  const stranger = await generateKeyPair('ES256');
  refused(
    t,
    await queue(url, {
      'X-User-Token': await sign(
        { preferred_username: 'ann' },
        undefined,
        undefined,
        stranger.privateKey,
      ),
    }),
    401,
    'IDENTITY_INVALID',
    'a key not in the JWKS',
  );
  refused(
    t,
    await queue(url, {
      'X-User-Token': await hs256(
        { preferred_username: 'ann', iss: 'https://id.example', aud: 'usher' },
        { secret: 'x'.repeat(32) },
      ),
    }),
    401,
    'IDENTITY_INVALID',
    'HS256 is no key of the JWKS',
  );
});

test('AUTH_ variables: exactly one of the secret and the JWKS URL, or none; bad values stop the server at start, naming them', async (t) => {
  t.is(readConfig({}).identity, undefined);
  t.deepEqual(readConfig({ AUTH_JWT_SECRET: SECRET }).identity, {
    userClaim: 'sub',
    secret: SECRET,
  });
  t.deepEqual(
    readConfig({
      AUTH_JWKS_URL: 'https://id.example/jwks',
      AUTH_USER_CLAIM: 'email',
      AUTH_ISSUER: 'https://id.example',
      AUTH_AUDIENCE: 'usher',
    }).identity,
    {
      userClaim: 'email',
      issuer: 'https://id.example',
      audience: 'usher',
      jwksUrl: 'https://id.example/jwks',
    },
  );
  t.throws(
    () => readConfig({ AUTH_JWT_SECRET: SECRET, AUTH_JWKS_URL: 'https://id.example/jwks' }),
    { message: /AUTH_JWT_SECRET and AUTH_JWKS_URL are both set/ },
  );
  t.throws(() => readConfig({ AUTH_JWT_SECRET: 'short' }), {
    message: /AUTH_JWT_SECRET: must be at least 32 bytes/,
  });
  t.throws(
    () => readConfig({ AUTH_JWT_SECRET: '' }),
    { message: /AUTH_JWT_SECRET: must be at least 32 bytes/ },
    'empty is not demo mode',
  );
  t.throws(() => readConfig({ AUTH_JWKS_URL: 'id.example/jwks' }), {
    message: /AUTH_JWKS_URL: must be an http\(s\) URL/,
  });
  t.throws(() => readConfig({ AUTH_ISSUER: 'https://id.example', AUTH_USER_CLAIM: 'email' }), {
    message:
      /AUTH_USER_CLAIM, AUTH_ISSUER are set but neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is/,
  });
  t.deepEqual(readConfig({ AUTH_JWT_SECRETS: SECRET }).warnings, [
    'AUTH_JWT_SECRETS is not a setting of usher and is ignored (did you mean AUTH_JWT_SECRET?)',
  ]);

  const DATA_DIR = join(tmpdir(), `usher-identity-never-${process.pid}`);
  const run = await runServerProcess({
    DATA_DIR,
    AUTH_JWT_SECRET: SECRET,
    AUTH_JWKS_URL: 'https://id.example/jwks',
  });
  t.is(run.code, 1);
  t.regex(run.stderr, /AUTH_JWT_SECRET and AUTH_JWKS_URL are both set/);
});
