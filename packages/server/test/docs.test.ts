import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ava, { type ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, testNeeding, withoutChromium } from './helpers/prerequisites.js';
import { startServerProcess, type ServerProcess } from './helpers/serverProcess.js';

/** The tests in a browser; the first needs none. */
const test = testNeeding(withoutChromium);

async function server(
  t: ExecutionContext,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-docs-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const running = await startServerProcess({ DATA_DIR, ...env });
  t.teardown(() => running.process.kill('SIGKILL'));
  return running;
}

const browser = (t: ExecutionContext): Promise<Browser> => launchChromium(t);

/** Everything a page asked for, and every console error (a blocked script or style is one: "Refused to …"). */
function watch(page: Page) {
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
      errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { requests, errors };
}

ava('GET /docs is an HTML page whose every asset is on this server, and is served', async (t) => {
  const { url } = await server(t);
  const response = await fetch(`${url}/docs`);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/html/);
  const html = await response.text();
  t.notRegex(html, /<script>|<script [^>]*>[^<\s]/, 'no inline script');
  t.notRegex(html, /<style|style=/, 'no inline style');
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
  t.true(assets.length >= 3, assets.join(' '));
  for (const asset of assets) {
    t.true(asset.startsWith('/') && !asset.startsWith('//'), `${asset} is on this server`);
    const served = await fetch(new URL(asset, url));
    t.is(served.status, 200, asset);
    t.true((await served.arrayBuffer()).byteLength > 0, asset);
  }
  t.true(assets.includes('/docs/swagger-ui-bundle.js'));
  t.true(assets.includes('/docs/swagger-ui.css'));
  t.regex(
    (await fetch(`${url}/docs/swagger-ui-bundle.js`)).headers.get('content-type') ?? '',
    /javascript/,
  );
  t.regex(
    (await fetch(`${url}/docs/swagger-ui.css`)).headers.get('content-type') ?? '',
    /^text\/css/,
  );
  t.is(
    (await fetch(`${url}/docs/package.json`)).status,
    404,
    'only the docs files, nothing else of the package',
  );
  t.is((await fetch(`${url}/docs/../package.json`)).status, 404);
});

test('in a browser, /docs shows every operation of /openapi.json, asks nothing of another origin, and breaks no security policy', async (t) => {
  const { url } = await server(t);
  const page = await (await browser(t)).newPage();
  const seen = watch(page);
  await page.goto(`${url}/docs`);
  const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const operations = Object.values(document.paths).reduce(
    (sum, methods) => sum + Object.keys(methods).length,
    0,
  );
  await page
    .locator('.opblock')
    .nth(operations - 1)
    .waitFor();
  t.is(await page.locator('.opblock').count(), operations);
  await page.getByText('/payments', { exact: true }).click();
  await page.getByText('Idempotent-Replayed').first().waitFor();
  await page.getByRole('button', { name: 'Authorize' }).waitFor();
  await page.screenshot({ path: join(tmpdir(), 'usher-docs.png') }).catch(() => undefined);
  const origin = new URL(url).origin;
  t.deepEqual(
    seen.requests.filter(
      (request) => !request.startsWith(`${origin}/`) && !request.startsWith('data:'),
    ),
    [],
    'every request to this server',
  );
  t.true(seen.requests.includes(`${origin}/openapi.json`));
  t.deepEqual(seen.errors, []);
});

test('the page works under the Content-Security-Policy: joining, waiting live, the seat map and a hold break no policy', async (t) => {
  const { url } = await server(t, { QUEUE_MAX_ACTIVE: '1', QUEUE_TICK_MS: '200' });
  const launched = await browser(t);
  const ann = await (await launched.newContext()).newPage();
  const bob = await (await launched.newContext()).newPage();
  const seen = [watch(ann), watch(bob)];
  await ann.goto(url);
  await ann.getByTestId('join-name').fill('ann');
  await ann.getByTestId('join-button').click();
  await bob.goto(url);
  await bob.getByTestId('join-name').fill('bob');
  await bob.getByTestId('join-button').click();
  await bob.getByTestId('position').filter({ hasText: /^1$/ }).waitFor();
  await ann.getByTestId('concert').first().click();
  await ann.getByTestId('date').first().click();
  await ann.getByTestId('seat-3').click();
  await ann.getByTestId('hold-picked').click();
  await ann.getByTestId('countdown').waitFor();
  // The page's styles applied (a blocked stylesheet leaves the seat map unstyled).
  t.not(
    await ann.getByTestId('countdown').evaluate((element) => getComputedStyle(element).display),
    'inline',
  );
  t.deepEqual(
    seen.flatMap(({ errors }) => errors),
    [],
  );
});
