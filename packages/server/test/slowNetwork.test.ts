import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { launchChromium, testNeeding, withoutChromium } from './helpers/prerequisites.js';
import { client, startServerProcess, type ServerProcess } from './helpers/serverProcess.js';

// The page as a person on a slow network sees it: every answer of the API comes late
// (playwright holds each response back), and the tests read what is on the screen.

const test = testNeeding(withoutChromium);
const artifacts = fileURLToPath(new URL('../../../test-artifacts/browser/', import.meta.url));
const phone: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};
/** The page's own files come at once; only the API is slow. */
const pageFiles = new Set(['/', '/app.js', '/styles.css', '/favicon.svg', '/pow-worker.js']);

async function server(t: ExecutionContext, env: Record<string, string> = {}) {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-slow-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const running = await startServerProcess({ DATA_DIR, QUEUE_TICK_MS: '200', ...env });
  t.teardown(() => running.process.kill('SIGKILL'));
  return running;
}

/** A page whose every API answer is held back `delayMs`, and the console errors it logs. */
async function slowPage(t: ExecutionContext, delayMs: number, options: BrowserContextOptions) {
  const context = await (await launchChromium(t)).newContext(options);
  await context.route('**/*', async (route) => {
    if (!pageFiles.has(new URL(route.request().url()).pathname))
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    await route.continue().catch(() => undefined);
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, errors };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const text = (page: Page) => page.evaluate(() => document.body.innerText);
const hash = (page: Page) => new URL(page.url()).hash;

/** The user's holds, asked of the API directly (not through the slow route). */
async function heldSeats(running: ServerProcess, page: Page): Promise<number[]> {
  const token = await page.evaluate(() => sessionStorage.getItem('usher.token'));
  const { body } = await client(running.url)('GET', '/reservations?status=held', {
    token: token ?? '',
  });
  return (body.reservations as { seatNo: number }[]).map((r) => r.seatNo).sort((a, b) => a - b);
}

test('on a slow network every click shows it is in flight and repeated clicks are ignored: one seat held for two taps, the screen and the URL change together with the answer', async (t) => {
  const running = await server(t);
  const { page, errors } = await slowPage(t, 2_000, { ...phone, locale: 'en-GB' });

  await page.goto(running.url);
  await page.getByTestId('join-name').fill('ann');
  await page.getByTestId('join-button').click();
  await page
    .getByTestId('activity')
    .filter({ hasText: /^Joining the line…$/ })
    .waitFor();
  await page.getByTestId('concert').first().waitFor();
  t.true(await page.getByTestId('activity').isHidden(), 'nothing in flight once answered');

  // A concert tapped: the list stays, says it is loading, and the URL waits for the answer.
  await page.getByTestId('concert').first().click();
  await page
    .getByTestId('activity')
    .filter({ hasText: /^Loading…$/ })
    .waitFor();
  t.is(hash(page), '#concerts', 'the URL does not change before the answer');
  t.true(await page.getByTestId('concert').first().isVisible(), 'the concerts are still shown');
  await shot(page, 'slow-1-concert-loading');
  await page.getByTestId('date').first().waitFor();
  t.is(hash(page), '#dates');

  await page.getByTestId('date').first().click();
  await page.getByTestId('seat-12').and(page.locator(':enabled')).waitFor();

  // Seat 12 picked and held, then seat 13 and the button again while the hold is on its way: both taps are ignored.
  await page.getByTestId('seat-12').click();
  await page.getByTestId('hold-picked').click();
  await page.getByTestId('seat-13').click();
  await page
    .getByTestId('hold-picked')
    .click({ timeout: 1_000 })
    .catch(() => undefined);
  await page
    .getByTestId('activity')
    .filter({ hasText: /^Holding seat 12…$/ })
    .waitFor();
  await shot(page, 'slow-2-holding');
  await page.getByTestId('countdown').waitFor();
  t.is((await page.locator('main h1').first().innerText()).trim(), 'Seat 12');
  t.deepEqual(await heldSeats(running, page), [12], 'exactly one seat held, the one shown');

  // A clock for the turn, on the screen, in the visitor's clock format (24-hour in en-GB).
  t.regex(await page.getByTestId('turn-clock').innerText(), /^Your turn: \d+:\d\d left$/);
  t.notRegex(await text(page), /\b(AM|PM)\b/i, 'no 12-hour time beside 24-hour ones');

  // Too much at once: the API's reason (the upper bound), not a guess.
  await page.getByTestId('charge-amount').fill('99999999999');
  await page.getByTestId('charge').click();
  await page.getByTestId('problem').waitFor();
  const refusal = await page.getByTestId('problem').innerText();
  t.regex(refusal, /10,000,000/);
  t.notRegex(refusal, /Type a whole amount/);
  await shot(page, 'slow-3-top-up-refused');

  // Top up and pay: the wallet stays in the header, with what is left.
  await page.getByTestId('charge-amount').fill('300000');
  await page.getByTestId('charge').click();
  await page.getByTestId('pay').and(page.locator(':enabled')).click();
  await page.getByTestId('confirmation').waitFor();
  t.regex(await page.getByTestId('wallet').innerText(), /^₩[\d,]+$/);
  await page.getByRole('button', { name: 'My holds and tickets' }).click();
  await page.getByTestId('mine-paid').waitFor();
  t.true(await page.getByTestId('wallet').isVisible(), 'the wallet is still shown');
  t.regex(await page.getByTestId('wallet').innerText(), /^₩[\d,]+$/);
  await shot(page, 'slow-4-wallet-after-paying');

  // "Buy another ticket" keeps the user: back in line as ann, not an empty form.
  await page.getByRole('button', { name: 'Show ticket' }).click();
  await page.getByRole('button', { name: 'Buy another ticket' }).click();
  await page.getByTestId('concert').first().waitFor();
  t.is(await page.locator('#who-name').innerText(), 'ann');
  t.deepEqual(
    errors.filter((error) => !/status of 400/.test(error)),
    [],
    'no errors in the console but the refused top-up (a 401 would be one)',
  );
});

test("the turn's clock: counting down on every screen after admission, in the visitor's clock format, and a way back into the line when it ends", async (t) => {
  // 20 s: long enough to reach the seat map on a loaded machine (300 ms a response), short enough to wait out.
  const running = await server(t, { TOKEN_ACTIVE_TTL_MS: '20000' });
  const { page } = await slowPage(t, 300, { ...phone, locale: 'en-US' });
  await page.goto(running.url);
  await page.getByTestId('join-name').fill('bob');
  await page.getByTestId('join-button').click();
  await page.getByTestId('concert').first().waitFor();
  t.regex(await page.getByTestId('turn-clock').innerText(), /^Your turn: 0:[0-2]\d left$/);
  await page.getByTestId('concert').first().click();
  await page.getByTestId('date').first().waitFor();
  t.true(await page.getByTestId('turn-clock').isVisible(), 'on the dates');
  await page.getByTestId('date').first().click();
  await page.getByTestId('seat-1').waitFor();
  t.true(await page.getByTestId('turn-clock').isVisible(), 'on the seat map');
  // en-US: the concert's time and the seat map's "updated" time are both 12-hour.
  t.regex(await page.locator('main h1').first().innerText(), /7:00\sPM/);
  t.regex(await text(page), /updated \d{1,2}:\d\d:\d\d\s[AP]M/);

  await page.getByTestId('turn-ended').waitFor({ timeout: 40_000 });
  const ended = await text(page);
  t.regex(ended, /Your turn has ended/);
  t.true(await page.getByTestId('turn-clock').isHidden());
  await shot(page, 'slow-5-turn-ended');
  await page.getByTestId('rejoin').click();
  await page.getByTestId('concert').first().waitFor();
  t.is(await page.locator('#who-name').innerText(), 'bob', 'back in as the same person');
  t.regex(await page.getByTestId('turn-clock').innerText(), /^Your turn: 0:[0-2]\d left$/);
});
