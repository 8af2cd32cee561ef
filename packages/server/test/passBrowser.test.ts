import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { importPKCS8, SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { launchChromium, testNeeding, withoutChromium } from './helpers/prerequisites.js';
import { client, startServerProcess } from './helpers/serverProcess.js';

/**
 * SPEC §12 in a real browser: a site behind usher's waiting room
 * (`examples/protected-site`, its own process) sends a visitor to usher's
 * page, which sends them back with the pass once admitted; the site verifies
 * it offline and serves its page. A forged or expired pass is refused, and
 * the page sends nobody to a site it does not list (PASS_RETURN_ORIGINS).
 */
const test = testNeeding(withoutChromium);
const artifacts = fileURLToPath(new URL('../../../test-artifacts/browser/', import.meta.url));
const siteMain = fileURLToPath(
  new URL('../../../examples/protected-site/src/main.ts', import.meta.url),
);
const ADMIN_TOKEN = 'an-operator-token-for-pass-tests';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The example site, a process of its own that knows only usher's address and its room. */
async function startSite(t: ExecutionContext, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [...process.execArgv, siteMain], {
    env: { ...process.env, HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! });
  return new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { url?: string };
      if (entry.url !== undefined) resolve(entry.url);
    });
    child.once('exit', (code) => reject(new Error(`the site exited (${code})`)));
  });
}

const message = async (page: Page) => (await page.getByTestId('message').textContent()) ?? '';

test('join → admitted → back at the site with the pass → served; a forged or expired pass is refused', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-pass-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const sitePort = await freePort();
  const siteOrigin = `http://127.0.0.1:${sitePort}`;
  const usher = await startServerProcess({
    DATA_DIR,
    ADMIN_TOKEN,
    QUEUE_TICK_MS: '200',
    PASS_RETURN_ORIGINS: siteOrigin,
  });
  t.teardown(() => usher.process.kill('SIGKILL'));
  const site = await startSite(t, {
    USHER_URL: usher.url,
    ROOM: 'default',
    PORT: String(sitePort),
  });
  t.is(site, siteOrigin);
  const api = client(usher.url);
  // The room is paused: the visitor waits in line first.
  t.is(
    (await api('PATCH', '/admin/room', { token: ADMIN_TOKEN, body: { paused: true } })).status,
    200,
  );

  const browser = await launchChromium(t);
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${site}/shop?item=7`);
  // Sent to usher's page, which says where the visitor goes back to, and takes the query off its address.
  await page.getByTestId('return-to').waitFor();
  t.is(new URL(page.url()).origin, new URL(usher.url).origin);
  t.is(new URL(page.url()).search, '');
  t.regex(
    (await page.getByTestId('return-to').textContent()) ?? '',
    /go back to 127\.0\.0\.1:\d+ with your pass \(room default\)/,
  );
  await page.getByTestId('join-name').fill('bob');
  await page.getByTestId('join-button').click();
  await page.getByTestId('position').filter({ hasText: /^1$/ }).waitFor();
  await page.screenshot({ path: join(artifacts, 'pass-1-waiting.png'), fullPage: true });

  // The room opens: admitted, back at the site with the pass, which lets bob in.
  t.is(
    (await api('PATCH', '/admin/room', { token: ADMIN_TOKEN, body: { paused: false } })).status,
    200,
  );
  await page.waitForURL(`${site}/shop?item=7`, { timeout: 15_000 });
  t.is(await message(page), 'Welcome, bob: you were admitted to room default.');
  await page.screenshot({ path: join(artifacts, 'pass-2-served.png'), fullPage: true });
  // The cookie keeps bob in: another visit is served at once.
  await page.goto(`${site}/shop?item=8`);
  t.regex(await message(page), /^Welcome, bob/);

  // A pass signed by another key under usher's pass kid: refused, said on the screen.
  const jwks = (await (await fetch(`${usher.url}/.well-known/jwks.json`)).json()) as {
    keys: { kid: string }[];
  };
  const kid = jwks.keys.find((key) => key.kid.startsWith('pass-'))!.kid;
  const now = Math.floor(Date.now() / 1000);
  const { generateKeyPairSync } = await import('node:crypto');
  const forged = await new SignJWT({
    sub: 'eve',
    room: 'default',
    jti: 'f',
    iat: now,
    exp: now + 600,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .sign(generateKeyPairSync('ed25519').privateKey);
  const fresh = await (await browser.newContext()).newPage();
  await fresh.goto(`${site}/shop?usher_pass=${forged}`);
  t.is(await message(fresh), 'Your pass was refused: its signature is not usher’s.');
  // usher's own key, but expired.
  const { keys } = JSON.parse(await readFile(join(DATA_DIR, 'signing-keys.json'), 'utf8')) as {
    keys: { use: string; privateKey: string }[];
  };
  const expired = await new SignJWT({
    sub: 'eve',
    room: 'default',
    jti: 'e',
    iat: now - 700,
    exp: now - 60,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .sign(await importPKCS8(keys.find((key) => key.use === 'pass')!.privateKey, 'EdDSA'));
  await fresh.goto(`${site}/shop?usher_pass=${expired}`);
  t.is(await message(fresh), 'Your pass was refused: it has expired.');
  await fresh.screenshot({ path: join(artifacts, 'pass-3-refused.png'), fullPage: true });
  // Without a pass the refused visitor is sent to the waiting room again.
  await fresh.goto(`${site}/shop`);
  await fresh.getByTestId('return-to').waitFor();

  // A site usher does not list: no note, a problem said, and admitted visitors stay on usher's page.
  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(
    `${usher.url}/?room=default&return=${encodeURIComponent('https://evil.example/steal')}`,
  );
  await stranger.getByTestId('problem').waitFor();
  t.regex(
    (await stranger.getByTestId('problem').textContent()) ?? '',
    /does not send visitors back to https:\/\/evil\.example/,
  );
  t.is(await stranger.getByTestId('return-to').count(), 0);
  await stranger.getByTestId('join-name').fill('cat');
  await stranger.getByTestId('join-button').click();
  await stranger.getByTestId('concert').first().waitFor();
  t.is(new URL(stranger.url()).origin, new URL(usher.url).origin);
});
