import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  fileKeyVault,
  KEY_FILE,
  passClaims,
  SigningKeys,
  withPass,
  type StoredKey,
} from '@usher/engine/signing';
import type { QueueToken } from '@usher/engine';

const pem = (): string =>
  generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

const active: QueueToken = {
  token: 'tok_secret',
  userId: 'ann',
  status: 'active',
  position: 0,
  estimatedWaitSeconds: 0,
  issuedAt: '2027-05-01T10:00:00.000Z',
  expiresAt: '2027-05-01T10:10:00.000Z',
  room: 'default',
};

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-keys-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('one key set, a key and a kid per use, in one JWKS of OKP Ed25519 keys', async (t) => {
  const keys = await SigningKeys.open();
  const { keys: jwks } = keys.jwks();
  t.is(jwks.length, 2);
  for (const jwk of jwks) {
    t.like(jwk, { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    t.regex(jwk.x, /^[\w-]{43}$/);
    t.false('d' in jwk, 'no private part');
  }
  t.regex(keys.kid('pass'), /^pass-/);
  t.regex(keys.kid('ticket'), /^ticket-/);
  t.deepEqual(
    jwks.map((jwk) => jwk.kid),
    [keys.kid('pass'), keys.kid('ticket')],
  );
});

test('a signature verifies with jose and the JWKS alone; a key of one use does not stand for the other', async (t) => {
  const keys = await SigningKeys.open();
  const code = await keys.sign('ticket', { tid: 't1', sch: 's1', seat: 7, sub: 'ann' });
  t.is(decodeProtectedHeader(code).kid, keys.kid('ticket'));
  const { payload } = await jwtVerify(
    code,
    createLocalJWKSet(structuredClone(keys.jwks()) as never),
    {
      algorithms: ['EdDSA'],
    },
  );
  t.like(payload, { tid: 't1', seat: 7 });
  t.like(await keys.verify('ticket', code), { sub: 'ann' });
  await t.throwsAsync(keys.verify('pass', code), { message: /does not sign passs?/ });
  const other = await SigningKeys.open();
  await t.throwsAsync(other.verify('ticket', code));
});

test('a pass: the claims of SPEC §12, exp the token’s expiresAt, the pass kid; none on a waiting token', async (t) => {
  const keys = await SigningKeys.open();
  const now = Date.parse('2027-05-01T10:00:05.000Z');
  const view = await withPass(keys, active, now);
  t.is(decodeProtectedHeader(view.pass!).kid, keys.kid('pass'));
  const claims = passClaims(active, now);
  t.deepEqual(Object.keys(claims).sort(), ['exp', 'iat', 'jti', 'room', 'sub']);
  t.like(claims, {
    sub: 'ann',
    room: 'default',
    iat: now / 1000,
    exp: Date.parse(active.expiresAt) / 1000,
  });
  t.false(claims.jti.includes('tok_secret'));
  t.is(passClaims({ ...active, room: 'spring' }, now).room, 'spring');
  t.is((await withPass(keys, { ...active, status: 'waiting', position: 3 })).pass, undefined);
});

test('the operator’s PEM signs, the vault is asked only for the other use, previous keys are published', async (t) => {
  const given = pem();
  const previous = pem();
  const asked: StoredKey['use'][] = [];
  const keys = await SigningKeys.open({
    keys: { ticket: given },
    previous: { ticket: [previous] },
    vault: {
      loadOrCreate: async (fresh) => {
        asked.push(...fresh.map((key) => key.use));
        return fresh;
      },
    },
  });
  t.deepEqual(asked, ['pass']);
  const again = await SigningKeys.open({ keys: { ticket: given, pass: pem() } });
  t.is(again.kid('ticket'), keys.kid('ticket'));
  t.is(keys.jwks().keys.length, 3);
  await t.throwsAsync(SigningKeys.open({ keys: { pass: 'not a key' } }), {
    message: /pass signing key is not a PEM key/,
  });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString();
  await t.throwsAsync(SigningKeys.open({ keys: { pass: rsa } }), {
    message: /rsa key, not Ed25519/,
  });
});

test('DATA_DIR: generated once, kept (mode 0600), and the same after a restart', async (t) => {
  const dir = await tempDir(t);
  const first = await SigningKeys.open({ vault: fileKeyVault(dir) });
  const restarted = await SigningKeys.open({ vault: fileKeyVault(dir) });
  t.deepEqual(restarted.jwks(), first.jwks());
  const code = await first.sign('pass', { sub: 'ann' });
  t.like(await restarted.verify('pass', code), { sub: 'ann' });
  t.is((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
  t.is(JSON.parse(await readFile(join(dir, KEY_FILE), 'utf8')).keys.length, 2);
});

test('DATA_DIR: of many openings at once, one key per use wins and all sign with it', async (t) => {
  const dir = await tempDir(t);
  const sets = await Promise.all(
    Array.from({ length: 8 }, () => SigningKeys.open({ vault: fileKeyVault(dir) })),
  );
  for (const keys of sets) t.deepEqual(keys.jwks(), sets[0]!.jwks());
});

test('rotation: a retired key signs no more and still verifies; the new one leads the JWKS', async (t) => {
  const dir = await tempDir(t);
  const old = await SigningKeys.open({ vault: fileKeyVault(dir) });
  const oldPass = await old.sign('pass', { sub: 'ann' });
  // What docs/operating.md says to do: mark the key retired, restart.
  const file = join(dir, KEY_FILE);
  const kept = JSON.parse(await readFile(file, 'utf8')) as { keys: StoredKey[] };
  const { writeFile } = await import('node:fs/promises');
  await writeFile(
    file,
    JSON.stringify({
      keys: kept.keys.map((key) =>
        key.use === 'pass' ? { ...key, retiredAt: new Date().toISOString() } : key,
      ),
    }),
  );
  const rotated = await SigningKeys.open({ vault: fileKeyVault(dir) });
  t.not(rotated.kid('pass'), old.kid('pass'));
  t.is(rotated.kid('ticket'), old.kid('ticket'));
  t.is(rotated.jwks().keys.length, 3);
  t.is(rotated.jwks().keys[0]!.kid, rotated.kid('pass'));
  t.like(await rotated.verify('pass', oldPass), { sub: 'ann' });
});
