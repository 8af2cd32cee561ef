import test, { type ExecutionContext } from 'ava';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { SigningKeys } from '@usher/engine/signing';
import { schemas } from '@usher/koa';
import { assertAnswer, bearer, startApi, type Api } from './helpers/api.js';
import { listening, openStream, tokenEvents } from './helpers/streams.js';

/** SPEC §12: an active token carries a pass that any site verifies with the JWKS alone. */

async function verifyPass(t: ExecutionContext, api: Api, pass: string): Promise<JWTPayload> {
  const jwks = assertAnswer(t, await api.http.get('/.well-known/jwks.json'), 200, schemas.Jwks);
  const { payload, protectedHeader } = await jwtVerify(pass, createLocalJWKSet(jwks as never), {
    algorithms: ['EdDSA'],
    // The engine runs on a simulated clock.
    currentDate: new Date(api.clock.now()),
  });
  t.is(protectedHeader.alg, 'EdDSA');
  t.regex(protectedHeader.kid ?? '', /^pass-/);
  return payload;
}

test('an active token carries a pass over { sub, room, jti, iat, exp }, exp its expiresAt; a waiting one none', async (t) => {
  const api = await startApi({ config: { queueMaxActive: 1, queueAdmitPerTick: 1 } });
  const ann = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: 'ann' }),
    201,
    schemas.QueueToken,
  );
  t.is(ann.status, 'active');
  const claims = await verifyPass(t, api, ann.pass!);
  t.deepEqual(Object.keys(claims).sort(), ['exp', 'iat', 'jti', 'room', 'sub']);
  t.like(claims, { sub: 'ann', room: 'default', exp: Date.parse(ann.expiresAt) / 1000 });
  t.false(ann.pass!.includes(ann.token));
  t.false(String(claims.jti).includes(ann.token));
  // The poll and the answer to joining again carry it too, for the same admission (jti).
  const polled = (await api.http.get('/queue/tokens/current').set(bearer(ann.token))).body;
  t.is((await verifyPass(t, api, polled.pass)).jti, claims.jti);
  const again = await api.http.post('/queue/tokens').send({ userId: 'ann' });
  t.is(again.status, 200);
  t.is((await verifyPass(t, api, again.body.pass)).jti, claims.jti);

  const bob = (await api.http.post('/queue/tokens').send({ userId: 'bob' })).body;
  t.is(bob.status, 'waiting');
  t.false('pass' in bob);
  t.false('pass' in (await api.http.get('/queue/tokens/current').set(bearer(bob.token))).body);
});

test('the event stream sends the pass with the active token, after the waiting ones', async (t) => {
  const api = await startApi({
    config: { queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1_000 },
  });
  await api.http.post('/queue/tokens').send({ userId: 'ann' });
  const bob = (await api.http.post('/queue/tokens').send({ userId: 'bob' })).body.token as string;
  // The first event is read before the clock moves (the watch is counted before the stream's first read).
  const stream = await openStream(await listening(t, api), bob);
  t.teardown(() => stream.response.destroy());
  api.clock.increment(1_000);
  await api.engine.tick();
  t.is(await stream.ended, 'end');
  const events = tokenEvents(stream.text());
  t.deepEqual(
    events.map((view) => [view.status, view.pass !== undefined]),
    [
      ['waiting', false],
      ['active', true],
    ],
  );
  t.like(await verifyPass(t, api, events[1]!.pass!), { sub: 'bob' });
});

test('GET /.well-known/jwks.json: OKP Ed25519 keys, a kid per use, cacheable; apps given one key set publish it alike', async (t) => {
  const keys = await SigningKeys.open();
  const a = await startApi({ app: { signingKeys: keys } });
  const b = await startApi({ app: { signingKeys: keys } });
  const response = await a.http.get('/.well-known/jwks.json');
  const jwks = assertAnswer(t, response, 200, schemas.Jwks);
  t.is(response.headers['cache-control'], 'public, max-age=300');
  t.deepEqual(jwks, keys.jwks());
  t.deepEqual(
    jwks.keys.map((key) => key.kid.split('-')[0]),
    ['pass', 'ticket'],
  );
  // A pass of one gateway verifies with the other's JWKS.
  const pass = (await a.http.post('/queue/tokens').send({ userId: 'ann' })).body.pass as string;
  t.is(decodeProtectedHeader(pass).kid, keys.kid('pass'));
  t.like(await verifyPass(t, b, pass), { sub: 'ann' });
});
