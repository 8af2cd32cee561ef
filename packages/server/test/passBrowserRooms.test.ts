import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { launchChromium, testNeeding, withoutChromium } from './helpers/prerequisites.js';
import { startServerProcess } from './helpers/serverProcess.js';

/**
 * SPEC §12 in a real browser: a visitor who already holds a live token of one
 * room (here the default room, joined on usher's own page) and is then sent by
 * a site of another room gets that room's pass, not a pass of the room they
 * happen to be in (which the site refuses, and sends them back: a loop).
 */
const test = testNeeding(withoutChromium);
const siteMain = fileURLToPath(
  new URL('../../../examples/protected-site/src/main.ts', import.meta.url),
);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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

test('a visitor with a live token of another room is sent back with a pass of the site’s room', async (t) => {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-pass-rooms-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const catalog = join(DATA_DIR, '..', `${DATA_DIR.split('/').pop()}-catalog.json`);
  await writeFile(
    catalog,
    JSON.stringify({
      concerts: [
        { id: 'plain', title: 'Plain' },
        { id: 'tour', title: 'The Tour', room: {} },
      ],
      schedules: [
        {
          id: 'plain-1',
          concertId: 'plain',
          startsAt: '2027-06-01T19:00:00Z',
          totalSeats: 5,
          price: 100,
        },
        {
          id: 'tour-1',
          concertId: 'tour',
          startsAt: '2027-06-02T19:00:00Z',
          totalSeats: 5,
          price: 100,
        },
      ],
    }),
  );
  t.teardown(() => rm(catalog, { force: true }));
  const sitePort = await freePort();
  const siteOrigin = `http://127.0.0.1:${sitePort}`;
  const usher = await startServerProcess({
    DATA_DIR,
    CATALOG: catalog,
    QUEUE_TICK_MS: '200',
    PASS_RETURN_ORIGINS: siteOrigin,
  });
  t.teardown(() => usher.process.kill('SIGKILL'));
  const site = await startSite(t, { USHER_URL: usher.url, ROOM: 'tour', PORT: String(sitePort) });

  const browser = await launchChromium(t);
  const page = await (await browser.newContext()).newPage();
  // First on usher's own page: bob joins the default room and is admitted at once.
  await page.goto(usher.url);
  await page.getByTestId('join-name').fill('bob');
  await page.getByTestId('join-button').click();
  await page.getByTestId('concert').first().waitFor();
  // Then, in the same tab, the site of the tour's room.
  await page.goto(`${site}/shop?item=7`);
  await page.waitForURL((url) => url.origin === siteOrigin && url.pathname === '/shop', {
    timeout: 15_000,
  });
  await page.getByTestId('message').waitFor();
  t.is(
    await page.getByTestId('message').textContent(),
    'Welcome, bob: you were admitted to room tour.',
  );
});
