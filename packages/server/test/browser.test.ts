import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { Page } from 'playwright-core';
import { oneSeatCatalog } from './helpers/catalog.js';
import { launchChromium, testNeeding, withoutChromium } from './helpers/prerequisites.js';
import { client, startServerProcess } from './helpers/serverProcess.js';

const test = testNeeding(withoutChromium);

const artifacts = fileURLToPath(new URL('../../../test-artifacts/browser/', import.meta.url));
const phone = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

async function joinAs(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-button').click();
}

const desktop = { viewport: { width: 1280, height: 800 } };
const ADMIN_TOKEN = 'an-operator-token-for-browser-tests';

/** What a person reads on the page: no stray "null" or "undefined" anywhere. */
async function assertClean(t: ExecutionContext, page: Page, where: string): Promise<string> {
  const text = await page.evaluate(() => document.body.innerText);
  t.notRegex(text, /\b(null|undefined|NaN)\b/, `${where}: stray text on the page`);
  return text;
}

/** Picks one seat on the map and holds it (a tap picks, the button holds). */
async function holdSeat(page: Page, seatNo: number): Promise<void> {
  await page.getByTestId(`seat-${seatNo}`).click();
  await page.getByTestId('hold-picked').click();
}

const heading = async (page: Page) =>
  ((await page.locator('main h1').first().textContent()) ?? '').trim();

async function openFirstDate(page: Page, t?: ExecutionContext): Promise<void> {
  await page.getByTestId('concert').first().click();
  await page.getByTestId('date').first().waitFor();
  if (t) {
    // The date list: the concert's title as its heading, dates with their time zone (in the visitor's
    // clock format: en-US here), and nothing else under the title.
    t.is(await heading(page), 'Golden Hour');
    t.regex((await page.getByTestId('date').first().textContent()) ?? '', /7:00\sPM GMT\+9/);
    const lines = (await assertClean(t, page, 'date list'))
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    t.is(
      lines[lines.indexOf('Golden Hour') + 1],
      (await page.getByTestId('date').first().innerText()).split('\n')[0]!.trim(),
      'the first date comes right under the title',
    );
  }
  await page.getByTestId('date').first().click();
  await page.getByTestId('seat-1').waitFor();
}

test('two people in a real browser: a place in line, admitted live, one seat sold once, a race with one winner', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const browser = await launchChromium(t);
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

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
  const filled = await bob
    .getByTestId('progress')
    .locator('span')
    .evaluate(
      (bar) => bar.getBoundingClientRect().width / bar.parentElement!.getBoundingClientRect().width,
    );
  t.true(filled < 0.95, `the bar is not full while still waiting (${filled})`);
  await assertClean(t, bob, 'waiting');
  await shot(bob, '1-bob-waiting');

  // Ann holds seat 7, tops up and pays.
  await openFirstDate(ann, t);
  await shot(ann, '2-ann-seat-map');
  await holdSeat(ann, 7);
  await ann
    .getByTestId('countdown')
    .filter({ hasText: /left to pay/ })
    .waitFor();
  t.regex((await ann.getByTestId('countdown').textContent()) ?? '', /^[45]:\d\d left to pay$/);
  await ann.getByTestId('charge').click();
  await ann.getByTestId('pay').and(ann.locator(':enabled')).waitFor();
  await shot(ann, '3-ann-hold');
  await ann.getByTestId('pay').click();
  await ann.getByTestId('confirmation').waitFor();
  t.regex((await ann.getByTestId('confirmation').textContent()) ?? '', /Seat 7/);
  await assertClean(t, ann, 'ticket');
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
  server = await startServerProcess({
    DATA_DIR,
    PORT: port,
    QUEUE_MAX_ACTIVE: '2',
    QUEUE_TICK_MS: '200',
  });
  // "Buy another ticket" joins the line again as ann: no form to fill in.
  await ann.getByRole('button', { name: 'Buy another ticket' }).click();
  await openFirstDate(ann);
  // A reload keeps bob's step: the same seat map, not the start.
  await bob.reload();
  await bob.getByTestId('seat-12').and(bob.locator(':enabled')).waitFor();
  t.regex(await heading(bob), /GMT\+9$/);

  // Both tap seat 12 at the same moment: exactly one holds it, the other is told why not.
  await Promise.all([ann.getByTestId('seat-12').click(), bob.getByTestId('seat-12').click()]);
  await Promise.all([
    ann.getByTestId('hold-picked').click(),
    bob.getByTestId('hold-picked').click(),
  ]);
  const outcome = async (page: Page) =>
    Promise.race([
      page
        .getByTestId('countdown')
        .waitFor()
        .then(() => 'held' as const),
      page
        .locator('[data-testid=problem][data-code=SEAT_UNAVAILABLE]')
        .waitFor()
        .then(() => 'refused' as const),
    ]);
  const results = await Promise.all([outcome(ann), outcome(bob)]);
  t.deepEqual([...results].sort(), ['held', 'refused']);
  const loser = results[0] === 'refused' ? ann : bob;
  t.regex(
    (await loser.getByTestId('problem').textContent()) ?? '',
    /Seat unavailable — seat 12 is held.*Someone else got this seat first/,
  );
  await loser.getByTestId('seat-12').and(loser.locator(':disabled')).waitFor();
  await shot(ann, `6-race-ann-${results[0]}`);
  await shot(bob, `6-race-bob-${results[1]}`);
});

test('a reload or Back during a hold stays in the page; too many holds offers to cancel one; a blank name is told in plain words; desktop uses the width', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const browser = await launchChromium(t);
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const server = await startServerProcess({
    DATA_DIR,
    QUEUE_MAX_ACTIVE: '5',
    QUEUE_TICK_MS: '200',
    MAX_HOLDS_PER_USER: '2',
  });
  t.teardown(() => server.process.kill('SIGKILL'));

  // A blank name: plain words, not the validator's.
  const cat = await (await browser.newContext(phone)).newPage();
  await joinAs(cat, server.url, '   ');
  await cat.getByTestId('problem').waitFor();
  const blank = (await cat.getByTestId('problem').innerText()).trim();
  t.regex(blank, /Type your name/);
  t.notRegex(blank, /body\.|userId|Too small|expected string/);
  await shot(cat, '7-blank-name');

  const dan = await (await browser.newContext(desktop)).newPage();
  await joinAs(dan, server.url, 'dan');
  await dan.getByTestId('concert').first().waitFor();
  t.is(await heading(dan), 'Pick a concert');
  const main = await dan.locator('main').boundingBox();
  t.true((main?.width ?? 0) > 900, `the page uses a desktop's width (${main?.width} px)`);
  await assertClean(t, dan, 'concerts, desktop');
  await shot(dan, '8-desktop-concerts');
  await openFirstDate(dan, t);
  await holdSeat(dan, 3);
  await dan
    .getByTestId('countdown')
    .filter({ hasText: /left to pay/ })
    .waitFor();
  t.is(await heading(dan), 'Seat 3');

  // A reload keeps the hold on screen, found again from the API.
  await dan.reload();
  await dan
    .getByTestId('countdown')
    .filter({ hasText: /left to pay/ })
    .waitFor();
  t.is(await heading(dan), 'Seat 3');
  await assertClean(t, dan, 'hold after reload');
  await shot(dan, '9-desktop-hold-after-reload');

  // Back goes to the seat map, in the page; the held seat is "yours", not "taken".
  await dan.goBack();
  await dan
    .getByTestId('seat-3')
    .and(dan.locator('[aria-label="Seat 3, row 1, held by you"]'))
    .waitFor();
  t.true(new URL(dan.url()).origin === new URL(server.url).origin, 'still on the page');
  t.regex(await heading(dan), /GMT\+9$/);
  await shot(dan, '10-desktop-seats-yours');

  // Two holds is the limit here: a third is refused with a way to cancel one.
  await holdSeat(dan, 4);
  await dan.getByTestId('countdown').waitFor();
  await dan.goBack();
  await dan.getByTestId('seat-5').and(dan.locator(':enabled')).click();
  await dan.getByTestId('hold-picked').click();
  await dan.locator('[data-testid=problem][data-code=HOLD_LIMIT_REACHED]').waitFor();
  await shot(dan, '11-desktop-hold-limit');
  await dan.getByTestId('problem-action').click();
  await dan.getByRole('heading', { name: 'My holds and tickets' }).waitFor();
  // The heading comes first; the list follows once GET /reservations answers (late on a loaded machine).
  await dan.getByTestId('mine-held').nth(1).waitFor();
  t.is(await dan.getByTestId('mine-held').count(), 2);
  await assertClean(t, dan, 'my holds');
  await shot(dan, '12-desktop-my-holds');
  await dan.getByTestId('mine-cancel').first().click();
  await dan.getByTestId('mine-held').nth(1).waitFor({ state: 'detached' });
  t.is(await dan.getByTestId('mine-held').count(), 1);

  // A paid ticket is shown again after a reload, when the turn has ended with the payment.
  await dan.getByRole('button', { name: /^Pay / }).click();
  await dan.getByTestId('charge').click();
  await dan.getByTestId('pay').and(dan.locator(':enabled')).click();
  await dan.getByTestId('confirmation').waitFor();
  await dan.reload();
  await dan.getByTestId('confirmation').waitFor();
  await dan.getByRole('button', { name: 'My holds and tickets' }).click();
  await dan.getByTestId('mine-paid').waitFor();
  t.is(await dan.getByTestId('mine-held').count(), 0);
  await assertClean(t, dan, 'my tickets after the turn ended');
  await shot(dan, '13-desktop-my-tickets');
});

test('with QUEUE_CHALLENGE=pow the page solves the challenge in a Web Worker, then joins; a refused join says so in plain words', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const browser = await launchChromium(t);
  // The default difficulty (QUEUE_CHALLENGE_MAX_NUMBER 50,000), and one join a minute per address.
  const server = await startServerProcess({
    DATA_DIR,
    QUEUE_CHALLENGE: 'pow',
    TOKEN_RATE_PER_MINUTE: '1',
  });
  t.teardown(() => server.process.kill('SIGKILL'));

  const ann = await (await browser.newContext(phone)).newPage();
  const workers: string[] = [];
  ann.on('worker', (worker) => workers.push(worker.url()));
  await joinAs(ann, server.url, 'ann');
  await ann.getByTestId('concert').first().waitFor();
  t.deepEqual(workers, [`${server.url}/pow-worker.js`], 'solved in a Web Worker');
  const joined = server.logs
    .filter((line) => line.route === '/queue/tokens' || line.route === '/queue/challenge')
    .map((line) => `${line.method} ${line.route} ${line.status}`);
  t.deepEqual(
    joined,
    ['POST /queue/tokens 400', 'GET /queue/challenge 200', 'POST /queue/tokens 201'],
    'a try without, told CHALLENGE_FAILED, a challenge, a join with it',
  );

  // How long the default difficulty takes this browser (the worker on fresh challenges): a figure for the log, not a test of speed.
  const took = await ann.evaluate(async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const challenge = await (await fetch('/queue/challenge')).json();
      const started = performance.now();
      const worker = new Worker('/pow-worker.js');
      const number = await new Promise((resolve) => {
        worker.onmessage = ({ data }) => 'number' in data && resolve(data.number);
        worker.postMessage({
          challenge: challenge.challenge,
          salt: challenge.salt,
          max: challenge.maxnumber,
        });
      });
      worker.terminate();
      if (typeof number !== 'number') throw new Error('no solution');
      times.push(performance.now() - started);
    }
    return times;
  });
  t.log(
    `solving QUEUE_CHALLENGE_MAX_NUMBER=50000 in headless Chromium: ${took.map((ms) => Math.round(ms)).join(', ')} ms`,
  );

  // A second join from the same address within the minute: refused, in plain words.
  const bob = await (await browser.newContext(phone)).newPage();
  await joinAs(bob, server.url, 'bob');
  await bob.locator('[data-testid=problem][data-code=RATE_LIMITED]').waitFor();
  t.regex(await bob.getByTestId('problem').innerText(), /Too many people joined from your network/);
  t.true(await bob.getByTestId('pow-progress').isHidden());
  t.true(await bob.getByTestId('join-button').isEnabled(), 'the button works again');
  await assertClean(t, bob, 'rate limited');
  await bob.screenshot({ path: join(artifacts, '14-rate-limited.png'), fullPage: true });
});

test("the fair start in the page: before opensAt a countdown and the opening time in the visitor's own time zone, then the place in line, drawn", async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const browser = await launchChromium(t);
  const server = await startServerProcess({
    DATA_DIR,
    ADMIN_TOKEN,
    QUEUE_MAX_ACTIVE: '1',
    QUEUE_TICK_MS: '200',
  });
  t.teardown(() => server.process.kill('SIGKILL'));
  const api = client(server.url);
  // Someone has the one active place already, so the people who join before the opening wait for their place.
  t.like((await api('POST', '/queue/tokens', { body: { userId: 'ann' } })).body, {
    status: 'active',
  });

  // Two visitors in Seoul (the server keeps UTC) have the page open with their names typed in.
  const seoul = { ...phone, timezoneId: 'Asia/Seoul' };
  const [bob, cat] = await Promise.all([
    (await browser.newContext(seoul)).newPage(),
    (await browser.newContext(seoul)).newPage(),
  ]);
  for (const [page, name] of [
    [bob, 'bob'],
    [cat, 'cat'],
  ] as const) {
    await page.goto(server.url);
    await page.getByTestId('join-name').fill(name);
  }
  // The operator sets the opening a few seconds ahead (enough for a loaded machine to show the page before it), a fair draw; then both join.
  const opensAt = new Date(Math.ceil((Date.now() + 12_000) / 1_000) * 1_000);
  t.like(
    (
      await api('PATCH', '/admin/room', {
        token: ADMIN_TOKEN,
        body: { opensAt: opensAt.toISOString(), shuffle: true },
      })
    ).body,
    { opensAt: opensAt.toISOString(), shuffle: true },
  );
  await Promise.all([
    bob.getByTestId('join-button').click(),
    cat.getByTestId('join-button').click(),
  ]);

  // Before the opening: no place yet, when it opens (Seoul time), and a countdown in seconds that moves.
  // In the visitor's own clock format (en-US, the browser's locale here), every space a plain one.
  const localOpening = new Intl.DateTimeFormat('en-US', {
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
    timeZone: 'Asia/Seoul',
    timeZoneName: 'short',
  })
    .format(opensAt)
    .replace(/\s/g, ' ');
  await bob
    .getByTestId('opens-countdown')
    .filter({ hasText: /^0:[01]\d$/ })
    .waitFor();
  t.is(
    (await bob.getByTestId('opens-at').innerText()).replace(/\s/g, ' '),
    `The sale opens at ${localOpening}`,
  );
  t.regex(localOpening, /GMT\+9$/);
  t.true(await bob.getByTestId('position').isHidden(), 'no place in line before the opening');
  const text = await assertClean(t, bob, 'before the opening');
  t.regex(text, /until the sale opens/);
  await bob.screenshot({ path: join(artifacts, '15-opening-countdown.png'), fullPage: true });
  const shown = await bob.getByTestId('opens-countdown').innerText();
  await bob.getByTestId('opens-countdown').filter({ hasNotText: shown }).waitFor();
  t.true(
    Number((await bob.getByTestId('opens-countdown').innerText()).split(':')[1]) <
      Number(shown.split(':')[1]),
    'the countdown counts down',
  );
  await cat.getByTestId('opens-countdown').waitFor();

  // At the opening the stream brings each a place: the two places are 1 and 2, in a random order.
  const place = async (page: Page) => {
    await page.getByTestId('position').filter({ hasText: /^\d+$/ }).waitFor({ timeout: 30_000 });
    return Number(await page.getByTestId('position').innerText());
  };
  const places = await Promise.all([place(bob), place(cat)]);
  t.deepEqual([...places].sort(), [1, 2]);
  t.true(Date.now() >= opensAt.getTime(), 'not before the opening');
  t.true(await bob.getByTestId('opening').isHidden(), 'the countdown is gone');
  t.regex(await bob.getByTestId('wait').innerText(), /^Your turn in /);
  await assertClean(t, bob, 'after the opening');
  await bob.screenshot({ path: join(artifacts, '16-opening-place-bob.png'), fullPage: true });
  await cat.screenshot({ path: join(artifacts, '16-opening-place-cat.png'), fullPage: true });
});

test('sold out in the page: a waiting visitor is told the moment the last seat is paid for, and so is anyone who joins after', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const CATALOG = await oneSeatCatalog(t);
  const browser = await launchChromium(t);
  const server = await startServerProcess({
    DATA_DIR,
    CATALOG,
    QUEUE_MAX_ACTIVE: '1',
    QUEUE_TICK_MS: '200',
  });
  t.teardown(() => server.process.kill('SIGKILL'));
  const api = client(server.url);

  // Ann is first and holds the one seat; bob waits behind her in the page.
  const ann = (await api('POST', '/queue/tokens', { body: { userId: 'ann' } })).body
    .token as string;
  const hold = (
    await api('POST', '/reservations', { token: ann, body: { scheduleId: 'tiny-1', seatNo: 1 } })
  ).body;
  const bob = await (await browser.newContext(phone)).newPage();
  await joinAs(bob, server.url, 'bob');
  await bob.getByTestId('position').filter({ hasText: /^1$/ }).waitFor();

  // Ann pays: nothing is left to sell, and bob's page says so at the next tick.
  t.is(
    (await api('POST', '/users/ann/balance/charge', { token: ann, body: { amount: 50_000 } }))
      .status,
    200,
  );
  t.is(
    (await api('POST', '/payments', { token: ann, body: { reservationId: hold.id } })).status,
    201,
  );
  await bob.getByTestId('sold-out').waitFor({ timeout: 10_000 });
  const told = await assertClean(t, bob, 'sold out while waiting');
  t.regex(told, /Every seat has been sold/);
  t.regex(told, /Nobody is kept waiting for a seat that is not there/);
  t.true(await bob.getByTestId('problem').isHidden(), 'no error, a plain answer');
  t.is(
    await bob.evaluate(() => sessionStorage.getItem('usher.token')),
    null,
    'the ended token is forgotten',
  );
  await bob.screenshot({ path: join(artifacts, '17-sold-out-waiting.png'), fullPage: true });

  // Someone who comes later is told the same at once, instead of a place in a line that leads nowhere.
  const dan = await (await browser.newContext(phone)).newPage();
  await joinAs(dan, server.url, 'dan');
  await dan.getByTestId('sold-out').waitFor();
  t.regex(await assertClean(t, dan, 'sold out on joining'), /Every seat has been sold/);
  await dan.screenshot({ path: join(artifacts, '18-sold-out-join.png'), fullPage: true });
});

test('orders in the page: several seats picked by row and category, one hold with its total, extended once, paid, shown in my tickets; the best seats together of a category', async (t) => {
  await mkdir(artifacts, { recursive: true });
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-browser-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const browser = await launchChromium(t);
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const server = await startServerProcess({
    DATA_DIR,
    QUEUE_MAX_ACTIVE: '5',
    QUEUE_TICK_MS: '200',
    HOLD_EXTENSION_MS: '120000',
    HOLD_EXTENSIONS: '1',
  });
  t.teardown(() => server.process.kill('SIGKILL'));
  const text = (page: Page, testId: string) => page.getByTestId(testId).innerText();

  // The seat map by rows (10 a row in the demo), each row with its category, a legend with prices.
  const eve = await (await browser.newContext(phone)).newPage();
  await joinAs(eve, server.url, 'eve');
  await eve.getByTestId('concert').first().waitFor();
  await openFirstDate(eve);
  t.regex(await text(eve, 'row-1'), /^Row 1\s+VIP\s+1\s+2\s+3/);
  t.regex(await text(eve, 'row-2'), /^Row 2\s+R\s+11\s/);
  t.regex(await text(eve, 'row-5'), /^Row 5\s+S\s+41\s/);
  t.deepEqual(await eve.getByTestId('legend-tier').allInnerTexts(), [
    'VIP ₩220,000',
    'R ₩165,000',
    'S ₩99,000',
  ]);
  t.is(await eve.getByTestId('seat-14').getAttribute('aria-label'), 'Seat 14, row 2, R, ₩165,000');

  // Three seats picked (a second tap puts one back), the total on the button.
  for (const seatNo of [14, 15, 22, 16]) await eve.getByTestId(`seat-${seatNo}`).click();
  await eve.getByTestId('seat-22').click();
  t.is(await eve.getByTestId('seat-15').getAttribute('aria-pressed'), 'true');
  t.is(await eve.getByTestId('seat-22').getAttribute('aria-pressed'), 'false');
  t.is(await text(eve, 'hold-picked'), 'Hold 3 seats · ₩495,000');
  t.regex(await text(eve, 'picked'), /Row 2 · Seat 14 · R\s+₩165,000/);
  await assertClean(t, eve, 'seats picked');
  await shot(eve, '14-orders-picked-phone');

  // One hold for the whole order: its seats, their total, the countdown, a way to extend once.
  await eve.getByTestId('hold-picked').click();
  await eve
    .getByTestId('countdown')
    .filter({ hasText: /left to pay/ })
    .waitFor();
  t.is(await heading(eve), 'Seats 14, 15, 16');
  const hold = await text(eve, 'hold');
  t.regex(hold, /3 seats held for you/i);
  t.deepEqual(
    await eve.getByTestId('order-seats').locator('li').allInnerTexts(),
    [
      'Row 2 · Seat 14 · R\t₩165,000',
      'Row 2 · Seat 15 · R\t₩165,000',
      'Row 2 · Seat 16 · R\t₩165,000',
    ].map((line) => line.replace('\t', '\n')),
  );
  t.is(await text(eve, 'order-total'), 'Total ₩495,000');
  t.regex(await text(eve, 'countdown'), /^[45]:\d\d left to pay$/);
  t.regex(await text(eve, 'deadline'), /^Held until \d/);
  t.is(await text(eve, 'pay'), 'Pay ₩495,000');
  await shot(eve, '15-orders-hold-phone');
  await eve.getByTestId('extend').click();
  await eve
    .getByTestId('deadline')
    .filter({ hasText: /^Extended: held until .*\(the last extension\)$/ })
    .waitFor();
  t.regex(await text(eve, 'countdown'), /^[67]:\d\d left to pay$/, 'two minutes more');
  t.true(await eve.getByTestId('extend').isHidden(), 'no second extension past the cap');
  await assertClean(t, eve, 'hold extended');
  await shot(eve, '16-orders-extended-phone');

  // Top up what is missing, pay the whole order once.
  await eve.getByTestId('charge').click();
  await eve.getByTestId('pay').and(eve.locator(':enabled')).click();
  await eve.getByTestId('confirmation').waitFor();
  const ticket = await text(eve, 'confirmation');
  t.regex(ticket, /Seats 14, 15, 16/);
  t.regex(ticket, /Paid\s+₩495,000/);
  await eve.getByRole('button', { name: 'My holds and tickets' }).click();
  await eve.getByTestId('mine-paid').waitFor();
  t.regex(await text(eve, 'mine-paid'), /Golden Hour · Seats 14, 15, 16/);
  await assertClean(t, eve, 'my tickets');
  await shot(eve, '17-orders-my-tickets-phone');

  // On a desktop: the best two seats together of VIP, picked by the box office.
  const fay = await (await browser.newContext(desktop)).newPage();
  await joinAs(fay, server.url, 'fay');
  await fay.getByTestId('concert').first().waitFor();
  await openFirstDate(fay);
  await fay.getByTestId('best-quantity').selectOption('2');
  await fay.getByTestId('best-category').selectOption('VIP');
  t.is(await text(fay, 'best-available'), 'Best 2 together');
  await shot(fay, '18-orders-seat-map-desktop');
  await fay.getByTestId('best-available').click();
  await fay.getByTestId('countdown').waitFor();
  t.is(await heading(fay), 'Seats 1, 2');
  t.regex(await text(fay, 'order-seats'), /Row 1 · Seat 1 · VIP\s+₩220,000\s+Row 1 · Seat 2 · VIP/);
  t.is(await text(fay, 'order-total'), 'Total ₩440,000');
  await shot(fay, '19-orders-best-hold-desktop');

  // Back on the map, her seats are hers; four more would pass MAX_TICKETS_PER_USER (4 a date): said plainly.
  await fay.goBack();
  await fay
    .getByTestId('seat-1')
    .and(fay.locator('[aria-label="Seat 1, row 1, held by you"]'))
    .waitFor();
  await fay.getByTestId('best-quantity').selectOption('4');
  await fay.getByTestId('best-available').click();
  await fay.locator('[data-testid=problem][data-code=TICKET_LIMIT_REACHED]').waitFor();
  t.regex(await text(fay, 'problem'), /as many seats of this date as one person may buy/);
  await assertClean(t, fay, 'best available refused');
  await shot(fay, '20-orders-ticket-limit-desktop');
});
