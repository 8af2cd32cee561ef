import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import jsQRModule from 'jsqr';
import type { Locator, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { launchChromium, testNeeding, withoutChromium } from './helpers/prerequisites.js';
import { client, startServerProcess } from './helpers/serverProcess.js';

// My tickets and the door, in a real browser against the real server: seats bought on the page,
// each valid ticket shown as a QR code that decodes to its code, a refund and a transfer through
// their confirmation steps, then the scanner page at /scan checking a code in, once.

const test = testNeeding(withoutChromium);
const artifacts = fileURLToPath(new URL('../../../test-artifacts/browser/', import.meta.url));
const SCANNER_TOKEN = 'door-scanner-token-for-browser-tests';
const phone = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};
// jsqr is CommonJS whose types declare an ES default export: the function is the module itself.
const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ??
  jsQRModule) as typeof jsQRModule.default;

type Ticket = { id: string; seatNo: number; price: number; status: string; code: string };

/** What the QR code on screen says: a screenshot of the element, decoded from its pixels. */
async function decodeQr(element: Locator): Promise<string | undefined> {
  const png = PNG.sync.read(await element.screenshot());
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  return found?.data;
}

const text = (page: Page) => page.evaluate(() => document.body.innerText);
const ticketOf = (page: Page, seatNo: number) =>
  page.getByTestId('ticket').filter({
    has: page.getByTestId('ticket-seat').filter({ hasText: new RegExp(`Seat ${seatNo}$`) }),
  });

test('my tickets in a real browser: a QR code per valid ticket that decodes to its code, a refund and a transfer with their confirmations, then the door checks a code in once', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-tickets-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const running = await startServerProcess({ DATA_DIR, SCANNER_TOKEN, QUEUE_TICK_MS: '200' });
  t.teardown(() => running.process.kill('SIGKILL'));
  const api = client(running.url);
  const browser = await launchChromium(t);
  const context = await browser.newContext({ ...phone, locale: 'en-GB' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));
  const keys: { path: string; key: string | undefined }[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && /\/tickets\//.test(request.url()))
      keys.push({
        path: new URL(request.url()).pathname,
        key: request.headers()['idempotency-key'],
      });
  });
  const shot = (target: Page, name: string) =>
    target.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  // Ann buys seats 21 to 24 (row 3, R, ₩165,000 each) in one order on the page.
  await page.goto(running.url);
  await page.getByTestId('join-name').fill('ann');
  await page.getByTestId('join-button').click();
  await page.getByTestId('concert').first().click();
  await page.getByTestId('date').first().click();
  for (const seatNo of [21, 22, 23, 24]) {
    await page.getByTestId(`seat-${seatNo}`).and(page.locator(':enabled')).click();
  }
  await page.getByTestId('hold-picked').click();
  await page.getByTestId('charge').click();
  await page.getByTestId('pay').and(page.locator(':enabled')).click();
  await page.getByTestId('confirmation').waitFor();
  t.is(await page.getByTestId('wallet').innerText(), '₩0', 'topped up exactly the total, spent');

  // My tickets: four valid tickets, each with a QR code on screen.
  await page.getByTestId('open-tickets').click();
  await page.getByTestId('ticket').nth(3).waitFor();
  t.is(new URL(page.url()).hash, '#tickets');
  const token = (await page.evaluate(() => sessionStorage.getItem('usher.token')))!;
  const { body } = await api('GET', '/tickets', { token });
  const tickets = body.tickets as Ticket[];
  t.deepEqual(tickets.map((ticket) => ticket.seatNo).sort(), [21, 22, 23, 24]);
  await page.locator('[data-testid="ticket-qr"] svg').nth(3).waitFor();
  /** What a phone's camera reads off each ticket's QR code, by seat. */
  const scanned = new Map<number, string>();
  for (const ticket of tickets) {
    const card = ticketOf(page, ticket.seatNo);
    t.is(await card.getAttribute('data-status'), 'valid');
    t.is(await card.getByTestId('ticket-status').innerText(), 'VALID · SHOW THIS CODE AT THE DOOR');
    t.regex(await card.innerText(), /Golden Hour/);
    t.regex(await card.getByTestId('ticket-date').innerText(), /1 May 2027.*19:00 GMT\+9/);
    t.is(await card.getByTestId('ticket-seat').innerText(), `Row 3 · Seat ${ticket.seatNo}`);
    t.is(await card.getByTestId('ticket-price').innerText(), '₩165,000');
    const qr = card.getByTestId('ticket-qr').locator('svg');
    t.true(await qr.isVisible(), `the QR code of seat ${ticket.seatNo} is on screen`);
    const box = (await qr.boundingBox())!;
    t.true(box.width >= 150 && box.width <= 260, `a QR code a phone can show (${box.width} px)`);
    await qr.scrollIntoViewIfNeeded();
    const decoded = await decodeQr(qr);
    t.is(decoded, ticket.code, `the QR code of seat ${ticket.seatNo} is its code`);
    scanned.set(ticket.seatNo, decoded!);
    t.is(await card.getByTestId('ticket-code').textContent(), ticket.code, 'and as text');
  }
  t.notRegex(await text(page), /\b(null|undefined|NaN)\b/);
  await shot(page, 'tickets-1-valid');
  // On a desktop the tickets take two columns (the screenshot is for a person to look at).
  await page.setViewportSize({ width: 1280, height: 800 });
  await shot(page, 'tickets-1-valid-desktop');
  await page.setViewportSize(phone.viewport);

  // Refund seat 21: a confirmation with the price first, "Keep it" changes nothing.
  const seat21 = ticketOf(page, 21);
  await seat21.getByTestId('ticket-refund').click();
  t.is(await seat21.locator('.question').innerText(), 'Refund ₩165,000?');
  await seat21.getByTestId('cancel-confirm').click();
  t.true(await seat21.getByTestId('ticket-confirm').isHidden());
  t.is(keys.length, 0, 'nothing is sent before a confirmation');
  await seat21.getByTestId('ticket-refund').click();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'tickets-2-refund-confirm');
  // The first try never reaches the server (the connection drops): the problem is said, the
  // confirmation stays, and the retry sends the same Idempotency-Key.
  await page.route('**/refund', (route) => route.abort('connectionreset'), { times: 1 });
  await seat21.getByTestId('confirm-refund').click();
  await page.getByTestId('problem').filter({ hasText: 'Connection problem' }).waitFor();
  t.true(await seat21.getByTestId('confirm-refund').isVisible(), 'the confirmation stays');
  await seat21.getByTestId('confirm-refund').click();
  await page
    .getByTestId('tickets-note')
    .filter({ hasText: 'Refunded: ₩165,000 is back in your wallet.' })
    .waitFor();
  const refunded = page.getByTestId('tickets-past').getByTestId('ticket');
  t.is(await refunded.count(), 1);
  t.is(await refunded.getAttribute('data-status'), 'refunded');
  t.is(
    await refunded.getByTestId('ticket-status').innerText(),
    'REFUNDED · ₩165,000 BACK TO YOUR WALLET',
  );
  t.is(await refunded.getByTestId('ticket-qr').count(), 0, 'no QR code on a refunded ticket');
  t.is(await page.getByTestId('tickets-valid').getByTestId('ticket').count(), 3);
  t.true(await page.getByTestId('problem').isHidden(), 'the connection problem is gone');
  t.is(await page.getByTestId('wallet').innerText(), '₩165,000', 'the wallet went up');
  // The wallet as the API has it (a new turn for ann may read it): the price is back.
  const again = await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
  const balance = await api('GET', '/users/ann/balance', { token: again.body.token as string });
  t.is(balance.body.balance, 165_000);
  const ticket21 = tickets.find((ticket) => ticket.seatNo === 21)!;
  t.is(keys.length, 2);
  t.is(keys[0]!.path, `/tickets/${ticket21.id}/refund`);
  t.regex(keys[0]!.key ?? '', /^[0-9a-f-]{36}$/, 'the refund carries an Idempotency-Key');
  t.deepEqual(keys[1], keys[0], 'the retry of the same confirmed refund, with the same key');

  // A stale card: seat 24 is given away on another device while its refund is being confirmed
  // here. The refusal shows the API's own words, and the list is redrawn as it now is.
  const seat24 = ticketOf(page, 24);
  await seat24.getByTestId('ticket-refund').click();
  const ticket24 = tickets.find((ticket) => ticket.seatNo === 24)!;
  const elsewhere = await api('POST', `/tickets/${ticket24.id}/transfer`, {
    token,
    body: { toUserId: 'carol' },
    headers: { 'idempotency-key': 'another-device-1' },
  });
  t.is(elsewhere.status, 201);
  const answered = page.waitForResponse((response) => response.url().endsWith('/refund'));
  await seat24.getByTestId('confirm-refund').click();
  const refusal = (await (await answered).json()) as { code: string; detail: string };
  t.is(refusal.code, 'TICKET_VOID');
  const problem = page.getByTestId('problem');
  await problem.filter({ hasText: refusal.detail }).waitFor();
  t.regex(await problem.innerText(), /This ticket was already refunded or given away\./);
  await shot(page, 'tickets-3-stale-refused');
  t.is(await seat24.getAttribute('data-status'), 'transferred');
  t.is(await seat24.getByTestId('ticket-status').innerText(), 'TRANSFERRED TO SOMEONE ELSE');
  t.is(await page.getByTestId('tickets-valid').getByTestId('ticket').count(), 2);
  await problem.getByRole('button', { name: 'Dismiss' }).click();

  // Transfer seat 22 to bob: his user id in the field, the button says what it will do.
  const seat22 = ticketOf(page, 22);
  await seat22.getByTestId('ticket-transfer').click();
  await seat22.getByTestId('transfer-to').fill('bob');
  t.is(await seat22.getByTestId('confirm-transfer').innerText(), 'Give seat 22 to bob');
  await shot(page, 'tickets-4-transfer-confirm');
  await seat22.getByTestId('confirm-transfer').click();
  await page.getByTestId('tickets-note').filter({ hasText: "Seat 22 is now bob's" }).waitFor();
  const valid = page.getByTestId('tickets-valid');
  t.is(await valid.getByTestId('ticket').count(), 1, 'only seat 23 is still valid');
  t.is(await valid.getByTestId('ticket-seat').innerText(), 'Row 3 · Seat 23');
  const transferred = ticketOf(page, 22);
  t.is(await transferred.getAttribute('data-status'), 'transferred');
  t.is(await transferred.getByTestId('ticket-status').innerText(), 'TRANSFERRED TO BOB');
  t.is(await transferred.getByTestId('ticket-qr').count(), 0);
  t.is(keys.length, 4);
  t.regex(keys[3]!.key ?? '', /^[0-9a-f-]{36}$/, 'the transfer carries an Idempotency-Key');
  t.is(new Set(keys.map(({ key }) => key)).size, 3, 'one key per confirmed action');
  const bob = await api('POST', '/queue/tokens', { body: { userId: 'bob' } });
  const bobs = await api('GET', '/tickets', { token: bob.body.token as string });
  t.deepEqual(
    (bobs.body.tickets as Ticket[]).map(({ seatNo, status }) => ({ seatNo, status })),
    [{ seatNo: 22, status: 'valid' }],
    'bob holds seat 22 now',
  );
  t.notRegex(await text(page), /\b(null|undefined|NaN)\b/);
  await shot(page, 'tickets-5-after');

  // The door: /scan, a wrong token first, then the right one; seat 23's code checks in once.
  const door = await context.newPage();
  door.on('pageerror', (error) => errors.push(error.message));
  await door.goto(`${running.url}/scan`);
  t.is(await door.title(), 'usher · door scanner');
  const scan = async (code: string) => {
    await door.getByTestId('scan-code').fill(code);
    await door.getByTestId('scan-button').click();
    await door.getByTestId('scan-button').and(door.locator(':enabled')).waitFor();
    return door.getByTestId('scan-result').innerText();
  };
  await door.getByTestId('scanner-token').fill('not-the-scanner-token-at-all');
  await door.getByTestId('save-token').click();
  t.is(await scan(scanned.get(23)!), 'Wrong scanner token');
  await door.getByTestId('scanner-token').fill(SCANNER_TOKEN);
  await door.getByTestId('save-token').click();
  t.is(
    await door.evaluate(() => sessionStorage.getItem('usher.scannerToken')),
    SCANNER_TOKEN,
    'kept in sessionStorage',
  );
  t.is(await scan(scanned.get(23)!), 'Checked in: seat 23');
  t.is(await door.getByTestId('scan-result').getAttribute('data-outcome'), 'ok');
  await shot(door, 'tickets-6-scan-checked-in');
  t.regex(await scan(scanned.get(23)!), /^Already checked in at \d\d:\d\d:\d\d (UTC|GMT)/);
  t.is(await door.getByTestId('scan-result').getAttribute('data-outcome'), 'refused');
  await shot(door, 'tickets-7-scan-again');
  t.is(await scan(scanned.get(22)!), 'Void ticket', 'the code given away no longer enters');
  t.is(await scan(scanned.get(21)!), 'Void ticket', 'nor does the refunded one');
  t.is(await scan(`${scanned.get(23)!.slice(0, -4)}AAAA`), 'Invalid code');
  // The token stays for the tab: a reload keeps it.
  await door.reload();
  t.is(await door.getByTestId('scanner-token').inputValue(), SCANNER_TOKEN);
  t.regex(await scan(scanned.get(23)!), /^Already checked in at /);

  // Back on ann's page, seat 23 says checked in, without its QR code.
  await page.reload();
  const used = ticketOf(page, 23);
  await used.filter({ has: page.getByTestId('ticket-status') }).waitFor();
  t.is(await used.getAttribute('data-status'), 'checked_in');
  t.regex(await used.getByTestId('ticket-status').innerText(), /^CHECKED IN AT \d\d:\d\d/);
  t.is(await used.getByTestId('ticket-qr').count(), 0);
  t.true(await page.getByTestId('no-tickets').isVisible());
  await shot(page, 'tickets-8-checked-in');
  // The console's only errors are the two refusals meant above: the dropped connection, the 409.
  t.deepEqual(
    errors.filter(
      (error) =>
        !/^Failed to load resource: (net::ERR_CONNECTION_RESET|the server responded with a status of 409)/.test(
          error,
        ),
    ),
    [],
  );
  t.true(errors.length <= 2, errors.join('\n'));
});
