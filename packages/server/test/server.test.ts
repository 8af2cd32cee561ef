import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { client, eventually, startServerProcess } from './helpers/serverProcess.js';

async function dataDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-server-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the whole flow over real HTTP, then SIGKILL and restart: the paid seat and the balance are intact', async (t) => {
  const DATA_DIR = await dataDir(t);
  const server = await startServerProcess({ DATA_DIR, QUEUE_MAX_ACTIVE: '1' });
  t.teardown(() => server.process.kill('SIGKILL'));
  const api = client(server.url);

  t.deepEqual((await api('GET', '/health')).body, { status: 'ok' });
  const ann = await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
  t.is(ann.status, 201);
  t.is(ann.body.status, 'active');
  const bob = await api('POST', '/queue/tokens', { body: { userId: 'bob' } });
  t.like(bob.body, { status: 'waiting', position: 1 });
  const token = ann.body.token as string;

  const { concerts } = (await api('GET', '/concerts', { token })).body;
  t.true(concerts.length >= 3, 'the demo catalog has at least 3 concerts');
  const { schedules } = (await api('GET', `/concerts/${concerts[0].id}/schedules`, { token })).body;
  t.true(schedules.length >= 2);
  const { seats } = (await api('GET', `/schedules/${schedules[0].id}/seats`, { token })).body;
  t.is(seats.length, 50);
  const seat = seats[6];
  const hold = await api('POST', '/reservations', {
    token,
    body: { scheduleId: schedules[0].id, seatNo: seat.seatNo },
  });
  t.is(hold.status, 201);
  const charge = await api('POST', '/users/ann/balance/charge', {
    token,
    body: { amount: 500_000 },
    headers: { 'idempotency-key': 'charge-1' },
  });
  t.deepEqual(charge.body, { userId: 'ann', balance: 500_000 });
  const payment = await api('POST', '/payments', {
    token,
    body: { reservationId: hold.body.id },
    headers: { 'idempotency-key': 'pay-1' },
  });
  t.is(payment.status, 201);
  t.is(payment.body.balance, 500_000 - seat.price);

  // The payment frees ann's slot; a tick admits bob.
  await eventually(async () =>
    (await api('GET', '/queue/tokens/current', { token: bob.body.token })).body.status === 'active'
      ? true
      : undefined,
  );

  server.process.kill('SIGKILL');
  t.is((await server.exited).signal, 'SIGKILL');

  const restarted = await startServerProcess({ DATA_DIR, QUEUE_MAX_ACTIVE: '1' });
  t.teardown(() => restarted.process.kill('SIGKILL'));
  t.true(restarted.logs.some((entry) => entry.msg === 'state restored'));
  const again = client(restarted.url);
  t.is(
    (await again('GET', '/queue/tokens/current', { token: bob.body.token })).body.status,
    'active',
    "bob's token survived",
  );
  const replay = await again('POST', '/payments', {
    token,
    body: { reservationId: hold.body.id },
    headers: { 'idempotency-key': 'pay-1' },
  });
  t.deepEqual(
    [replay.status, replay.body],
    [201, payment.body],
    'the payment is there, replayed by its key',
  );
  const bobSeats = (
    await again('GET', `/schedules/${schedules[0].id}/seats`, { token: bob.body.token })
  ).body.seats as { seatNo: number }[];
  t.false(
    bobSeats.some((s) => s.seatNo === seat.seatNo),
    'the paid seat is sold',
  );
  t.is(bobSeats.length, 49);
  // ann queues again once bob's slot frees up; her balance is what it was.
  const annAgain = await again('POST', '/queue/tokens', { body: { userId: 'ann' } });
  const bobHold = await again('POST', '/reservations', {
    token: bob.body.token,
    body: { scheduleId: schedules[0].id, seatNo: 1 },
  });
  t.is(bobHold.status, 201);
  await again('POST', '/users/bob/balance/charge', {
    token: bob.body.token,
    body: { amount: seats[0].price },
  });
  t.is(
    (
      await again('POST', '/payments', {
        token: bob.body.token,
        body: { reservationId: bobHold.body.id },
      })
    ).status,
    201,
  );
  await eventually(async () =>
    (await again('GET', '/queue/tokens/current', { token: annAgain.body.token })).body.status ===
    'active'
      ? true
      : undefined,
  );
  t.deepEqual((await again('GET', '/users/ann/balance', { token: annAgain.body.token })).body, {
    userId: 'ann',
    balance: 500_000 - seat.price,
  });
});

test('SIGTERM under load: in-flight requests finish, every 2xx is durable, the process exits 0', async (t) => {
  const DATA_DIR = await dataDir(t);
  const server = await startServerProcess({ DATA_DIR, MAX_CONNECTIONS_PER_ADDRESS: '0' });
  const api = client(server.url);
  const token = (await api('POST', '/queue/tokens', { body: { userId: 'ann' } })).body
    .token as string;
  const charges = Array.from({ length: 200 }, (_, i) =>
    api('POST', '/users/ann/balance/charge', {
      token,
      body: { amount: 1 },
      headers: { 'idempotency-key': `k${i}` },
    }).catch(() => ({ status: 0 })),
  );
  await new Promise((resolve) => setTimeout(resolve, 5));
  server.process.kill('SIGTERM');
  const answers = await Promise.all(charges);
  const { code } = await server.exited;
  t.is(code, 0);
  t.true(server.logs.some((entry) => entry.msg === 'stopped'));
  const acknowledged = answers.filter((answer) => answer.status === 200).length;
  t.true(
    answers.every((answer) => [0, 200, 503].includes(answer.status)),
    JSON.stringify(answers.map((a) => a.status)),
  );

  const restarted = await startServerProcess({ DATA_DIR });
  t.teardown(() => restarted.process.kill('SIGKILL'));
  const again = client(restarted.url);
  const balance = (await again('GET', '/users/ann/balance', { token })).body.balance as number;
  t.true(
    balance >= acknowledged,
    `every acknowledged charge is there (${acknowledged} acknowledged, balance ${balance})`,
  );
  t.log(
    `${acknowledged} charges acknowledged, ${answers.filter((a) => a.status === 503).length} refused 503, ${answers.filter((a) => a.status === 0).length} refused connections; balance after restart ${balance}`,
  );
});

test('CATALOG loads another catalog on first start; a restart keeps the stored one', async (t) => {
  const DATA_DIR = await dataDir(t);
  const CATALOG = join(DATA_DIR, '..', `catalog-${process.pid}.json`);
  t.teardown(() => rm(CATALOG, { force: true }));
  await writeFile(
    CATALOG,
    JSON.stringify({
      concerts: [{ id: 'solo', title: 'Solo Night' }],
      schedules: [
        {
          id: 'solo-1',
          concertId: 'solo',
          startsAt: '2027-02-02T20:00:00+09:00',
          totalSeats: 3,
          price: 10_000,
        },
      ],
    }),
  );
  const first = await startServerProcess({ DATA_DIR, CATALOG });
  const api = client(first.url);
  const token = (await api('POST', '/queue/tokens', { body: { userId: 'ann' } })).body
    .token as string;
  t.deepEqual((await api('GET', '/concerts', { token })).body, {
    concerts: [{ id: 'solo', title: 'Solo Night' }],
  });
  first.process.kill('SIGTERM');
  await first.exited;
  const second = await startServerProcess({ DATA_DIR });
  t.teardown(() => second.process.kill('SIGKILL'));
  t.deepEqual((await client(second.url)('GET', '/concerts', { token })).body, {
    concerts: [{ id: 'solo', title: 'Solo Night' }],
  });
});

test('a bad environment stops the server at once with a clear message', async (t) => {
  const DATA_DIR = await dataDir(t);
  const error = await t.throwsAsync(
    startServerProcess({ DATA_DIR, HOLD_TTL_MS: 'five minutes', PORT: '99999' }),
  );
  t.regex(error!.message, /exited \(1\).*bad environment.*PORT.*HOLD_TTL_MS/);
});

test('an engine setting past its bound stops the server at start, naming the variable', async (t) => {
  const DATA_DIR = await dataDir(t);
  // Accepted before bounds: every hold then answered 500 and was kept, expiring in ~273,000 years.
  const error = await t.throwsAsync(
    startServerProcess({ DATA_DIR, HOLD_TTL_MS: '8640000000000000' }),
  );
  t.regex(error!.message, /exited \(1\).*bad environment.*HOLD_TTL_MS.*86400000/);
});

test('malformed HTTP is answered 400 problem+json too', async (t) => {
  const DATA_DIR = await dataDir(t);
  const server = await startServerProcess({ DATA_DIR });
  t.teardown(() => server.process.kill('SIGKILL'));
  const { port } = new URL(server.url);
  const reply = await new Promise<string>((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () =>
      socket.end('GARBAGE / NOT-HTTP\r\n\r\n'),
    );
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => resolve(text));
  });
  t.regex(reply, /^HTTP\/1\.1 400 Bad Request/);
  t.regex(reply, /Content-Type: application\/problem\+json/);
  t.regex(reply, /"code":"VALIDATION_FAILED"/);
});

test('the page is served at / with its files; API routes and unknown paths are untouched', async (t) => {
  const DATA_DIR = await dataDir(t);
  const server = await startServerProcess({ DATA_DIR });
  t.teardown(() => server.process.kill('SIGKILL'));
  const page = await fetch(`${server.url}/`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(await page.text(), /<script type="module" src="\/app.js">/);
  for (const [path, type] of [
    ['/app.js', /javascript/],
    ['/styles.css', /^text\/css/],
    ['/favicon.svg', /^image\/svg\+xml/],
    ['/scan', /^text\/html/],
    ['/scan.js', /javascript/],
    ['/vendor/qrcode.mjs', /javascript/],
  ] as const) {
    const response = await fetch(`${server.url}${path}`);
    t.is(response.status, 200, path);
    t.regex(response.headers.get('content-type') ?? '', type, path);
  }
  t.deepEqual((await client(server.url)('GET', '/health')).body, { status: 'ok' });
  const missing = await client(server.url)('GET', '/index.htm');
  t.deepEqual([missing.status, missing.body.code], [404, 'NOT_FOUND']);
  // Only the library the page imports is served from its package, nothing else beside it.
  for (const path of ['/vendor/qrcode.js', '/vendor/package.json', '/vendor/../package.json']) {
    const other = await client(server.url)('GET', path);
    t.deepEqual([other.status, other.body.code], [404, 'NOT_FOUND'], path);
  }
  t.is(
    (await client(server.url)('POST', '/')).body.code,
    'NOT_FOUND',
    'the page only takes GET; the API has no /',
  );
});

test('SIGTERM ends open event streams and the server still exits 0', async (t) => {
  const DATA_DIR = await dataDir(t);
  const server = await startServerProcess({ DATA_DIR, QUEUE_MAX_ACTIVE: '1' });
  const api = client(server.url);
  await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
  const bob = (await api('POST', '/queue/tokens', { body: { userId: 'bob' } })).body
    .token as string;
  const stream = await fetch(`${server.url}/queue/tokens/current/events?access_token=${bob}`);
  t.regex(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = stream.body!.getReader();
  let text = '';
  while (!text.includes('event: token'))
    text += new TextDecoder().decode((await reader.read()).value);
  t.regex(text, /"status":"waiting","position":1/);
  server.process.kill('SIGTERM');
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
    text += new TextDecoder().decode(chunk.value);
  t.is((await server.exited).code, 0, 'the stream ended and the server stopped cleanly');
});

test('a client that hangs up on its event stream is not logged as an error', async (t) => {
  const DATA_DIR = await dataDir(t);
  const server = await startServerProcess({ DATA_DIR, QUEUE_MAX_ACTIVE: '1', LOG_LEVEL: 'debug' });
  t.teardown(() => server.process.kill('SIGKILL'));
  const api = client(server.url);
  await api('POST', '/queue/tokens', { body: { userId: 'ann' } });
  const bob = (await api('POST', '/queue/tokens', { body: { userId: 'bob' } })).body
    .token as string;
  const hangUp = new AbortController();
  const stream = await fetch(`${server.url}/queue/tokens/current/events?access_token=${bob}`, {
    signal: hangUp.signal,
  });
  await stream.body!.getReader().read();
  hangUp.abort();
  await eventually(async () =>
    server.logs.some((entry) => entry.msg === 'client went away') ? true : undefined,
  );
  t.deepEqual(
    server.logs.filter((entry) => (entry.level as number) >= 50),
    [],
    'no error logged',
  );
});
