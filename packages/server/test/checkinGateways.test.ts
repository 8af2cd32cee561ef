/**
 * SPEC §11 with real processes: two gateways (server processes, as on two
 * machines) over one real PostgreSQL; 50 scans of one ticket at once, 25 at
 * each gateway: exactly one `200`, the others `409 ALREADY_CHECKED_IN` with
 * the first scan's time.
 */
import test from 'ava';
import { createDatabase, usePostgres } from '@usher/testkit';
import { client, eventually, startServerProcess } from './helpers/serverProcess.js';

const postgres = usePostgres(test);
const SCANNER_TOKEN = 'door-scanner-token-Vq7u2xLk9PzR4m';

test('50 scans of one ticket at once on two gateways: exactly one 200', async (t) => {
  const url = await createDatabase(postgres());
  const env = {
    DATABASE_URL: url,
    SCANNER_TOKEN,
    QUEUE_TICK_MS: '100',
    MAX_CONNECTIONS_PER_ADDRESS: '0',
    TOKEN_RATE_PER_MINUTE: '0',
  };
  const gateways = [];
  for (let i = 0; i < 2; i++) {
    const server = await startServerProcess(env);
    t.teardown(() => server.process.kill('SIGKILL'));
    gateways.push(client(server.url));
  }
  const [a, b] = gateways as [ReturnType<typeof client>, ReturnType<typeof client>];

  const token = (await a('POST', '/queue/tokens', { body: { userId: 'ann' } })).body
    .token as string;
  await eventually(async () =>
    (await a('GET', '/queue/tokens/current', { token })).body.status === 'active'
      ? true
      : undefined,
  );
  const concert = ((await a('GET', '/concerts', { token })).body.concerts as { id: string }[])[0]!;
  const schedule = (
    (await a('GET', `/concerts/${concert.id}/schedules`, { token })).body.schedules as {
      id: string;
    }[]
  )[0]!;
  const hold = await a('POST', '/reservations', {
    token,
    body: { scheduleId: schedule.id, quantity: 1 },
  });
  t.is(hold.status, 201, JSON.stringify(hold.body));
  await a('POST', '/users/ann/balance/charge', { token, body: { amount: hold.body.amount } });
  t.is(
    (await a('POST', '/payments', { token, body: { reservationId: hold.body.id } })).status,
    201,
  );
  // The other gateway lists the same ticket, with the same code (one key in the database).
  const [ticket] = (await b('GET', '/tickets', { token })).body.tickets as {
    id: string;
    code: string;
  }[];
  t.is(
    ((await a('GET', '/tickets', { token })).body.tickets as { code: string }[])[0]!.code,
    ticket!.code,
  );

  const headers = { authorization: `Bearer ${SCANNER_TOKEN}` };
  const scans = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      (i % 2 === 0 ? a : b)('POST', '/checkin', { headers, body: { code: ticket!.code } }),
    ),
  );
  const first = scans.filter((scan) => scan.status === 200);
  t.is(first.length, 1, JSON.stringify(scans.map((scan) => scan.status)));
  t.like(first[0]!.body, { ticketId: ticket!.id });
  for (const scan of scans.filter((scan) => scan.status !== 200)) {
    t.is(scan.status, 409);
    t.like(scan.body, { code: 'ALREADY_CHECKED_IN' });
  }
  t.is(
    ((await b('GET', '/tickets', { token })).body.tickets as { status: string }[])[0]!.status,
    'checked_in',
  );
});
