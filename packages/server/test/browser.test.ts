import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { chromium, type Page } from 'playwright-core';
import { startServerProcess } from './helpers/serverProcess.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const artifacts = fileURLToPath(new URL('../../../test-artifacts/browser/', import.meta.url));
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

async function joinAs(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-button').click();
}

async function openFirstDate(page: Page): Promise<void> {
  await page.getByTestId('concert').first().click();
  await page.getByTestId('date').first().click();
  await page.getByTestId('seat-1').waitFor();
}

test('two people in a real browser: a place in line, admitted live, one seat sold once, a race with one winner', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  t.teardown(() => browser.close());
  const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  let server = await startServerProcess({ DATA_DIR, QUEUE_MAX_ACTIVE: '1', QUEUE_TICK_MS: '200' });
  t.teardown(() => server.process.kill('SIGKILL'));
  const ann = await (await browser.newContext(phone)).newPage();
  const bob = await (await browser.newContext(phone)).newPage();

  // One active place: ann gets it, bob waits and sees his place.
  await joinAs(ann, server.url, 'ann');
  await ann.getByTestId('concert').first().waitFor();
  await joinAs(bob, server.url, 'bob');
  await bob.getByTestId('position').filter({ hasText: /^1$/ }).waitFor();
  t.regex((await bob.getByTestId('wait').textContent()) ?? '', /^Your turn in /);
  t.true(await bob.locator('#who').isHidden(), 'no wallet before it is your turn');
  await shot(bob, '1-bob-waiting');

  // Ann holds seat 7, tops up and pays.
  await openFirstDate(ann);
  await shot(ann, '2-ann-seat-map');
  await ann.getByTestId('seat-7').click();
  await ann.getByTestId('countdown').filter({ hasText: /left to pay/ }).waitFor();
  t.regex((await ann.getByTestId('countdown').textContent()) ?? '', /^[45]:\d\d left to pay$/);
  await ann.getByTestId('charge').click();
  await ann.getByTestId('pay').and(ann.locator(':enabled')).waitFor();
  await shot(ann, '3-ann-hold');
  await ann.getByTestId('pay').click();
  await ann.getByTestId('confirmation').waitFor();
  t.regex((await ann.getByTestId('confirmation').textContent()) ?? '', /Seat 7/);
  await shot(ann, '4-ann-ticket');

  // Ann's payment frees the place: bob's page moves on by itself (Server-Sent Events), and seat 7 is taken.
  await bob.getByTestId('concert').first().waitFor({ timeout: 10_000 });
  await openFirstDate(bob);
  t.true(await bob.getByTestId('seat-7').isDisabled());
  t.false(await bob.getByTestId('seat-8').isDisabled());
  await shot(bob, '5-bob-seat-map');

  // A race needs two active people: the box office restarts with room for two, on the same port and data.
  const port = new URL(server.url).port;
  server.process.kill('SIGTERM');
  t.is((await server.exited).code, 0);
  server = await startServerProcess({ DATA_DIR, PORT: port, QUEUE_MAX_ACTIVE: '2', QUEUE_TICK_MS: '200' });
  await ann.getByRole('button', { name: 'Buy another ticket' }).click();
  await ann.getByTestId('join-name').fill('ann');
  await ann.getByTestId('join-button').click();
  await openFirstDate(ann);
  await bob.reload();
  await bob.getByTestId('concert').first().waitFor();
  await openFirstDate(bob);

  // Both tap seat 12 at the same moment: exactly one holds it, the other is told why not.
  await Promise.all([ann.getByTestId('seat-12').click(), bob.getByTestId('seat-12').click()]);
  const outcome = async (page: Page) =>
    Promise.race([
      page.getByTestId('countdown').waitFor().then(() => 'held' as const),
      page.locator('[data-testid=problem][data-code=SEAT_UNAVAILABLE]').waitFor().then(() => 'refused' as const),
    ]);
  const results = await Promise.all([outcome(ann), outcome(bob)]);
  t.deepEqual([...results].sort(), ['held', 'refused']);
  const loser = results[0] === 'refused' ? ann : bob;
  t.regex((await loser.getByTestId('problem').textContent()) ?? '', /Seat unavailable — seat 12 is held.*Someone else got this seat first/);
  await loser.getByTestId('seat-12').and(loser.locator(':disabled')).waitFor();
  await shot(ann, `6-race-ann-${results[0]}`);
  await shot(bob, `6-race-bob-${results[1]}`);
});
