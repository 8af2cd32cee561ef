/**
 * Starts the host application on a free port and walks through a session:
 * sign in, queue, buy a seat; then shows what a stranger cannot do.
 *
 *   npx --yes pnpm@10 --filter @usher/example-custom-auth start
 */
import type { AddressInfo } from 'node:net';
import { createEngine } from '@usher/engine';
import { createHostApp } from './hostApp.js';

const engine = await createEngine();
await engine.loadCatalog({
  concerts: [{ id: 'jazz', title: 'Jazz at Dusk' }],
  schedules: [
    {
      id: 'jazz-0312',
      concertId: 'jazz',
      startsAt: '2027-03-12T20:00:00+09:00',
      totalSeats: 20,
      price: 55_000,
    },
  ],
});
const server = createHostApp(engine).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** A browser, reduced to its cookie jar. */
function person() {
  let cookie = '';
  return async (method: string, path: string, options: { token?: string; body?: unknown } = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    cookie = response.headers.get('set-cookie')?.split(';')[0] ?? cookie;
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}
const show = (who: string, what: string, answer: { status: number; body?: { code?: string } }) =>
  console.log(
    `${who.padEnd(8)} ${what.padEnd(44)} → ${answer.status}${answer.body?.code ? ` ${answer.body.code}` : ''}`,
  );

const ann = person();
show('ann', 'GET /tickets/concerts, not signed in', await ann('GET', '/tickets/concerts'));
show('ann', 'POST /login?name=ann', await ann('POST', '/login?name=ann'));
const queued = await ann('POST', '/tickets/queue/tokens');
show('ann', 'POST /tickets/queue/tokens (no body)', queued);
const token = queued.body.token as string;
console.log(
  `${''.padEnd(8)} the token is for ${queued.body.userId}: the host decided, not the client`,
);
const hold = await ann('POST', '/tickets/reservations', {
  token,
  body: { scheduleId: 'jazz-0312', seatNo: 5 },
});
show('ann', 'POST /tickets/reservations seat 5', hold);
show(
  'ann',
  'POST /tickets/users/user-ann/balance/charge',
  await ann('POST', '/tickets/users/user-ann/balance/charge', { token, body: { amount: 55_000 } }),
);
show(
  'ann',
  'POST /tickets/payments',
  await ann('POST', '/tickets/payments', { token, body: { reservationId: hold.body.id } }),
);

const mallory = person();
await mallory('POST', '/login?name=mallory');
show(
  'mallory',
  'POST /tickets/queue/tokens as "user-ann"',
  await mallory('POST', '/tickets/queue/tokens', { body: { userId: 'user-ann' } }),
);
show(
  'mallory',
  "GET /tickets/reservations/:id, ann's token",
  await mallory('GET', `/tickets/reservations/${hold.body.id}`, { token }),
);
show(
  'mallory',
  'GET /tickets/openapi.json (public)',
  await mallory('GET', '/tickets/openapi.json'),
);

server.close();
await engine.close();
