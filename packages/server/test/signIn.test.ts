import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { SignJWT, type JWTPayload } from 'jose';
import { readConfig, StartupError } from '../src/config.js';
import { unfitUserIds } from '@usher/testkit';
import { jwksProvider } from './helpers/jwks.js';
import { client, runServerProcess, startServerProcess } from './helpers/serverProcess.js';

/** The hardened sign-in (issue 21, findings 1 to 3): audience and issuer, exp, iat and nbf, the user id rule. */

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';

async function server(t: ExecutionContext, env: Record<string, string>) {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-sign-in-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const running = await startServerProcess({ DATA_DIR, TOKEN_RATE_PER_MINUTE: '0', ...env });
  t.teardown(() => running.process.kill('SIGKILL'));
  return running;
}

/** A provider's JWKS, served on 127.0.0.1 by this test, and how it signs. */
async function provider(t: ExecutionContext) {
  const { url, privateKey } = await jwksProvider(t);
  return {
    url,
    sign: (claims: JWTPayload) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey),
  };
}

const hs256 = (claims: JWTPayload) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
const now = () => Math.floor(Date.now() / 1_000);

test('finding 1: AUTH_JWKS_URL without AUTH_ISSUER and AUTH_AUDIENCE stops the start, naming them', async (t) => {
  const jwks = 'https://id.example/jwks';
  const refused = t.throws(() => readConfig({ AUTH_JWKS_URL: jwks }), {
    instanceOf: StartupError,
  });
  t.regex(refused?.message ?? '', /AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE/);
  t.throws(() => readConfig({ AUTH_JWKS_URL: jwks, AUTH_ISSUER: 'https://id.example' }), {
    message: /AUTH_JWKS_URL needs AUTH_AUDIENCE:/,
  });
  t.throws(() => readConfig({ AUTH_JWKS_URL: jwks, AUTH_AUDIENCE: 'usher' }), {
    message: /AUTH_JWKS_URL needs AUTH_ISSUER:/,
  });
  t.throws(() => readConfig({ AUTH_JWT_SECRET: SECRET, AUTH_ANY_AUDIENCE: 'true' }), {
    message: /AUTH_ANY_AUDIENCE=true is set but AUTH_JWKS_URL is not/,
  });
  t.throws(
    () =>
      readConfig({
        AUTH_JWKS_URL: jwks,
        AUTH_ISSUER: 'https://id.example',
        AUTH_AUDIENCE: 'usher',
        AUTH_ANY_AUDIENCE: 'true',
      }),
    { message: /AUTH_ANY_AUDIENCE=true and AUTH_AUDIENCE are both set/ },
  );
  const run = await runServerProcess({
    DATA_DIR: join(tmpdir(), `usher-sign-in-never-${process.pid}`),
    AUTH_JWKS_URL: jwks,
  });
  t.is(run.code, 1);
  t.regex(
    run.stderr,
    /^usher cannot start: bad environment: AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE/,
  );
});

test('finding 1: AUTH_ANY_AUDIENCE=true takes a token for another app, and says so at warn at every start', async (t) => {
  const idp = await provider(t);
  const { url, logs } = await server(t, {
    AUTH_JWKS_URL: idp.url,
    AUTH_ISSUER: 'https://id.example',
    AUTH_ANY_AUDIENCE: 'true',
  });
  const warning = logs.find((entry) => /AUTH_ANY_AUDIENCE=true/.test(String(entry.msg)));
  t.is(warning?.level, 40, 'at warn: still seen with LOG_LEVEL=warn');
  const answer = await client(url)('POST', '/queue/tokens', {
    body: {},
    headers: {
      'X-User-Token': await idp.sign({
        sub: 'ann',
        iss: 'https://id.example',
        aud: 'some-other-app',
        exp: now() + 300,
      }),
    },
  });
  t.is(answer.status, 201, JSON.stringify(answer.body));
});

test('finding 2: a JWT needs exp; iat and nbf may be in the future by the clock skew only', async (t) => {
  const { url } = await server(t, { AUTH_JWT_SECRET: SECRET });
  const api = client(url);
  const join = async (claims: JWTPayload) =>
    api('POST', '/queue/tokens', { body: {}, headers: { 'X-User-Token': await hs256(claims) } });
  const noExp = await join({ sub: 'ann', iat: now() });
  t.is(noExp.status, 401, 'no exp: good forever, refused');
  t.is(noExp.body.code, 'IDENTITY_INVALID');
  t.regex(String(noExp.body.detail), /"exp"/);
  const yearAhead = await join({
    sub: 'ann',
    iat: now() + 365 * 86_400,
    exp: now() + 400 * 86_400,
  });
  t.is(yearAhead.status, 401, 'iat a year in the future');
  t.is(yearAhead.body.code, 'IDENTITY_INVALID');
  const notYet = await join({ sub: 'ann', nbf: now() + 600, exp: now() + 900 });
  t.is(notYet.status, 401, 'nbf ten minutes in the future');
  t.is(notYet.body.code, 'IDENTITY_INVALID');
  const skewed = await join({ sub: 'ann', iat: now() + 30, nbf: now() + 30, exp: now() + 300 });
  t.is(skewed.status, 201, `a clock 30 s ahead is within the skew: ${JSON.stringify(skewed.body)}`);
});

test("finding 3: a JWT's user claim keeps the user id rule of a body's userId: 401 IDENTITY_INVALID", async (t) => {
  const { url } = await server(t, { AUTH_JWT_SECRET: SECRET });
  const api = client(url);
  for (const [what, sub] of unfitUserIds) {
    const answer = await api('POST', '/queue/tokens', {
      body: {},
      headers: { 'X-User-Token': await hs256({ sub, exp: now() + 300 }) },
    });
    t.is(answer.status, 401, what);
    t.is(answer.body.code, 'IDENTITY_INVALID');
    t.regex(String(answer.body.detail), /^the signed-in user id /);
  }
  const ok = await api('POST', '/queue/tokens', {
    body: {},
    headers: { 'X-User-Token': await hs256({ sub: 'Jos\u00e9', exp: now() + 300 }) },
  });
  t.is(ok.status, 201);
  t.is(ok.body.userId, 'Jos\u00e9');
});

test('finding 7: demo mode on a HOST other than loopback is refused unless ALLOW_PUBLIC_DEMO=true, and then warned at start', async (t) => {
  for (const HOST of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '::ffff:127.0.0.1'])
    t.false(readConfig({ HOST }).publicDemo, HOST);
  for (const HOST of ['0.0.0.0', '::', '192.0.2.1', 'usher.example']) {
    t.throws(() => readConfig({ HOST }), {
      instanceOf: StartupError,
      message: new RegExp(`HOST ${HOST} is reachable from other machines, and no sign-in is set`),
    });
    t.false(
      readConfig({ HOST, AUTH_JWT_SECRET: SECRET }).publicDemo,
      'signed in: nothing to refuse',
    );
    t.true(readConfig({ HOST, ALLOW_PUBLIC_DEMO: 'true' }).publicDemo);
  }
  t.throws(() => readConfig({ AUTH_JWT_SECRET: SECRET, ALLOW_PUBLIC_DEMO: 'true' }), {
    message: /ALLOW_PUBLIC_DEMO=true is set but sign-in is on/,
  });
  const DATA_DIR = join(tmpdir(), `usher-public-demo-never-${process.pid}`);
  const run = await runServerProcess({ DATA_DIR, HOST: '0.0.0.0' });
  t.is(run.code, 1);
  t.regex(
    run.stderr,
    /^usher cannot start: bad environment: HOST 0\.0\.0\.0 is reachable from other machines.*AUTH_JWT_SECRET or AUTH_JWKS_URL.*ALLOW_PUBLIC_DEMO=true/,
  );
  t.false(existsSync(DATA_DIR), 'refused before the data folder is touched');

  const { url, logs } = await server(t, { HOST: '0.0.0.0', ALLOW_PUBLIC_DEMO: 'true' });
  const line = logs.find((entry) => /identity: DEMO mode/.test(String(entry.msg)));
  t.is(line?.level, 40, 'a warn line');
  t.regex(
    String(line?.msg),
    /HOST 0\.0\.0\.0 serves it to other machines \(ALLOW_PUBLIC_DEMO=true\)/,
  );
  t.is((await client(url)('GET', '/health')).status, 200);
});
