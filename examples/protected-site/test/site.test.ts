import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { importPKCS8, SignJWT, type JWTPayload } from 'jose';
import { startSite, startUsher, type Running } from './processes.js';

/**
 * SPEC §12: a pass verifies in another process with `jose`, given only
 * usher's JWKS URL; the site refuses a pass of another room, a forged one
 * and an expired one. usher, and each site, run as processes of their own;
 * the site never imports usher.
 */
let dataDir: string;
let usher: Running;
let site: Running;
let otherRoomSite: Running;

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'usher-protected-'));
  usher = await startUsher({ DATA_DIR: dataDir });
  [site, otherRoomSite] = await Promise.all([
    startSite({ USHER_URL: usher.url, ROOM: 'default' }),
    startSite({ USHER_URL: usher.url, ROOM: 'spring-tour' }),
  ]);
});
test.after.always(async () => {
  for (const running of [site, otherRoomSite, usher]) running?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function passOf(userId: string): Promise<string> {
  const response = await fetch(`${usher.url}/queue/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const token = (await response.json()) as { status: string; pass?: string };
  if (token.status !== 'active' || token.pass === undefined)
    throw new Error('not admitted at once');
  return token.pass;
}

/** Brings `pass` back to `site` as usher's page does; the answer, not followed. */
const bringBack = (to: Running, pass: string) =>
  fetch(`${to.url}/shop?item=7&usher_pass=${encodeURIComponent(pass)}`, { redirect: 'manual' });

/** A pass signed by usher's own pass key, with the claims a test wants (the key read from DATA_DIR). */
async function signedByUsher(claims: JWTPayload): Promise<string> {
  const { keys } = JSON.parse(await readFile(join(dataDir, 'signing-keys.json'), 'utf8')) as {
    keys: { use: string; privateKey: string; retiredAt?: string }[];
  };
  const stored = keys.find((key) => key.use === 'pass' && key.retiredAt === undefined)!;
  const jwks = (await (await fetch(`${usher.url}/.well-known/jwks.json`)).json()) as {
    keys: { kid: string }[];
  };
  const kid = jwks.keys.find((key) => key.kid.startsWith('pass-'))!.kid;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .sign(await importPKCS8(stored.privateKey, 'EdDSA'));
}

test('a visitor without a pass is sent to usher’s page with ?room=&return=', async (t) => {
  const response = await fetch(`${site.url}/shop?item=7`, { redirect: 'manual' });
  t.is(response.status, 302);
  const to = new URL(response.headers.get('location')!);
  t.is(to.origin, new URL(usher.url).origin);
  t.is(to.searchParams.get('room'), 'default');
  t.is(to.searchParams.get('return'), `${site.url}/shop?item=7`);
});

test('usher’s pass verifies in the site’s own process with only the JWKS URL: a cookie, then the page', async (t) => {
  const back = await bringBack(site, await passOf('ann'));
  t.is(back.status, 303);
  t.is(back.headers.get('location'), '/shop?item=7');
  const cookie = back.headers.get('set-cookie')!;
  t.regex(
    cookie,
    /^site_pass=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/,
  );
  const page = await fetch(`${site.url}/shop?item=7`, {
    headers: { cookie: cookie.split(';')[0]! },
    redirect: 'manual',
  });
  t.is(page.status, 200);
  t.regex(await page.text(), /Welcome, ann: you were admitted to room default/);
});

test('a site of room B refuses a pass of room A: usher’s own, and one signed by usher’s key for another room', async (t) => {
  const real = await bringBack(otherRoomSite, await passOf('bob'));
  t.is(real.status, 403);
  t.regex(await real.text(), /refused: the pass is for room default, not spring-tour/);
  const now = Math.floor(Date.now() / 1000);
  const otherRoom = await signedByUsher({
    sub: 'cat',
    room: 'spring-tour',
    jti: 'x',
    iat: now,
    exp: now + 600,
  });
  t.regex(
    await (await bringBack(site, otherRoom)).text(),
    /the pass is for room spring-tour, not default/,
  );
  // …which the site of that room takes: the signature is usher's.
  t.is((await bringBack(otherRoomSite, otherRoom)).status, 303);
});

test('a forged pass and an expired one are refused', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const expired = await signedByUsher({
    sub: 'dan',
    room: 'default',
    jti: 'y',
    iat: now - 700,
    exp: now - 100,
  });
  const refusedExpired = await bringBack(site, expired);
  t.is(refusedExpired.status, 403);
  t.regex(await refusedExpired.text(), /refused: it has expired/);
  // Another key, under usher's pass kid.
  const jwks = (await (await fetch(`${usher.url}/.well-known/jwks.json`)).json()) as {
    keys: { kid: string }[];
  };
  const forged = await new SignJWT({
    sub: 'eve',
    room: 'default',
    jti: 'z',
    iat: now,
    exp: now + 600,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: jwks.keys[0]!.kid })
    .sign(generateKeyPairSync('ed25519').privateKey);
  const refusedForged = await bringBack(site, forged);
  t.is(refusedForged.status, 403);
  t.regex(await refusedForged.text(), /refused: its signature is not usher’s/);
  // A real pass with one character changed, and a bad cookie: refused, and back to the waiting room.
  const real = await passOf('fay');
  const tampered = `${real.slice(0, -2)}${real.at(-2) === 'A' ? 'B' : 'A'}${real.at(-1)}`;
  t.is((await bringBack(site, tampered)).status, 403);
  const withForgedCookie = await fetch(`${site.url}/`, {
    headers: { cookie: `site_pass=${forged}` },
    redirect: 'manual',
  });
  t.is(withForgedCookie.status, 302);
});

test('coming back with a pass never redirects off the site: a path that resolves to //host stays a path', async (t) => {
  // `/.//evil.example` resolves to the path `//evil.example`, which a browser reads as another host.
  const pass = await passOf('gil');
  for (const path of ['/.//evil.example/x', '/..//evil.example', '/a/..//evil.example']) {
    const location = await new Promise<string | undefined>((resolve, reject) => {
      const url = new URL(site.url);
      request({ host: url.hostname, port: url.port, path: `${path}?usher_pass=${pass}` }, (res) => {
        res.resume();
        resolve(res.headers.location);
      })
        .on('error', reject)
        .end();
    });
    t.truthy(location, path);
    t.is(new URL(location!, site.url).origin, new URL(site.url).origin, `${path} → ${location}`);
  }
});

test('the return address sent to usher is always on the site’s own origin, whatever the request target', async (t) => {
  // A request target of `//evil.example/x` resolves to another host: usher would be asked to send the pass there.
  const location = await new Promise<string | undefined>((resolve, reject) => {
    const url = new URL(site.url);
    request({ host: url.hostname, port: url.port, path: '//evil.example/x?y=1' }, (res) => {
      res.resume();
      resolve(res.headers.location);
    })
      .on('error', reject)
      .end();
  });
  const back = new URL(new URL(location!).searchParams.get('return')!);
  t.is(back.origin, new URL(site.url).origin);
});
