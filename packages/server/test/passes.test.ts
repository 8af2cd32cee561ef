import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createDatabase, usePostgres } from '@usher/testkit';
import { startServerProcess } from './helpers/serverProcess.js';

/**
 * The server's signing keys (SPEC §11, §12): generated once and kept, so a
 * restart and every gateway sign with the same key; a pass signed before a
 * restart verifies after it. The check runs in a process of its own that
 * knows only the JWKS URL (jose, no usher import).
 */
const postgres = usePostgres(test);

const jwksOf = async (url: string) =>
  (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };

async function passOf(url: string, userId: string): Promise<string> {
  const response = await fetch(`${url}/queue/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const { pass } = (await response.json()) as { pass?: string };
  if (pass === undefined) throw new Error(`no pass for ${userId}`);
  return pass;
}

/** Verifies `pass` in a separate Node process with jose, given only the JWKS URL: its `sub`, or the error. */
async function verifyElsewhere(jwksUrl: string, pass: string): Promise<string> {
  const script = `
    import { createRemoteJWKSet, jwtVerify } from 'jose';
    const [jwksUrl, pass] = process.argv.slice(-2);
    try {
      const { payload } = await jwtVerify(pass, createRemoteJWKSet(new URL(jwksUrl)), { algorithms: ['EdDSA'] });
      console.log('ok ' + payload.sub + ' ' + payload.room);
    } catch (error) {
      console.log('refused ' + error.code);
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, jwksUrl, pass], {
    cwd: new URL('..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  return out.trim();
}

test('embedded: the key is made once in DATA_DIR and kept across a restart; a pass of before verifies after, elsewhere', async (t) => {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-keys-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const first = await startServerProcess({ DATA_DIR });
  const before = await jwksOf(first.url);
  const pass = await passOf(first.url, 'ann');
  t.is(await verifyElsewhere(`${first.url}/.well-known/jwks.json`, pass), 'ok ann default');
  t.is((await stat(join(DATA_DIR, 'signing-keys.json'))).mode & 0o777, 0o600);
  first.process.kill('SIGTERM');
  t.is((await first.exited).code, 0);

  const second = await startServerProcess({ DATA_DIR });
  t.teardown(() => second.process.kill('SIGKILL'));
  t.deepEqual(await jwksOf(second.url), before);
  t.is(await verifyElsewhere(`${second.url}/.well-known/jwks.json`, pass), 'ok ann default');
});

test('PostgreSQL: two gateways started at once on a new database sign with one key; a pass of one verifies with the other’s JWKS', async (t) => {
  const url = await createDatabase(postgres());
  const [a, b] = await Promise.all([
    startServerProcess({ DATABASE_URL: url }),
    startServerProcess({ DATABASE_URL: url }),
  ]);
  t.teardown(() => {
    a.process.kill('SIGKILL');
    b.process.kill('SIGKILL');
  });
  const keys = await jwksOf(a.url);
  t.deepEqual(await jwksOf(b.url), keys);
  t.is(keys.keys.length, 2);
  const pass = await passOf(a.url, 'bob');
  t.is(await verifyElsewhere(`${b.url}/.well-known/jwks.json`, pass), 'ok bob default');
  // Restarted, a gateway finds the same key in the database.
  a.process.kill('SIGTERM');
  await a.exited;
  const c = await startServerProcess({ DATABASE_URL: url });
  t.teardown(() => c.process.kill('SIGKILL'));
  t.deepEqual(await jwksOf(c.url), keys);
});

test('the operator’s PASS_SIGNING_KEY signs; the previous key stays published', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const pem = () =>
    generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-keys-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const oldKey = pem();
  const old = await startServerProcess({ DATA_DIR, PASS_SIGNING_KEY: oldKey });
  const oldPass = await passOf(old.url, 'cat');
  const oldKids = (await jwksOf(old.url)).keys.map((key) => key.kid);
  old.process.kill('SIGTERM');
  await old.exited;
  const rotated = await startServerProcess({
    DATA_DIR,
    PASS_SIGNING_KEY: pem(),
    PASS_SIGNING_KEY_PREVIOUS: oldKey,
  });
  t.teardown(() => rotated.process.kill('SIGKILL'));
  const kids = (await jwksOf(rotated.url)).keys.map((key) => key.kid);
  t.is(kids.length, 3);
  t.true(oldKids.every((kid) => kids.includes(kid)));
  t.is(await verifyElsewhere(`${rotated.url}/.well-known/jwks.json`, oldPass), 'ok cat default');
  t.regex(
    await verifyElsewhere(`${rotated.url}/.well-known/jwks.json`, `${oldPass.slice(0, -4)}AAAA`),
    /^refused ERR_JWS_SIGNATURE_VERIFICATION_FAILED$/,
  );
});
