import test from 'ava';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { schemas } from '@usher/koa';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  START,
  startApi,
  type Api,
} from './helpers/api.js';

const SCANNER = 'scanner-token-of-the-door-0123';
const ADMIN = 'admin-token-of-the-operator-0123';
const scanner = { Authorization: `Bearer ${SCANNER}` };
const admin = { Authorization: `Bearer ${ADMIN}` };

type Ticket = ReturnType<typeof schemas.Ticket.parse>;

/** `userId` buys `seatNos` of `scheduleId`; answers their token (kept after the payment) and tickets. */
async function buy(api: Api, userId: string, scheduleId: string, seatNos: number[]) {
  const token = await activeToken(api, userId);
  const hold = (
    await api.http.post('/reservations').set(bearer(token)).send({ scheduleId, seatNos })
  ).body as { id: string; amount: number };
  await api.http
    .post(`/users/${userId}/balance/charge`)
    .set(bearer(token))
    .send({ amount: hold.amount });
  const paid = await api.http.post('/payments').set(bearer(token)).send({ reservationId: hold.id });
  if (paid.status !== 201) throw new Error(JSON.stringify(paid.body));
  const { tickets } = (await api.http.get('/tickets').set(bearer(token))).body as {
    tickets: Ticket[];
  };
  return { token, tickets: tickets.sort((a, b) => a.seatNo - b.seatNo) };
}

const withDoor = { app: { scannerToken: SCANNER, adminToken: ADMIN } };

test('GET /tickets: a paid reservation of k seats is k tickets with codes a JOSE verifier accepts', async (t) => {
  const api = await startApi();
  const { token, tickets } = await buy(api, 'ann', 's1', [3, 4]);
  // The token ended with the payment: it still lists the tickets.
  const listed = assertAnswer(
    t,
    await api.http.get('/tickets').set(bearer(token)),
    200,
    schemas.TicketList,
  );
  t.is(listed.tickets.length, 2);
  t.like(tickets[0], {
    scheduleId: 's1',
    concertId: 'c1',
    seatNo: 3,
    price: 1_000,
    holder: 'ann',
    status: 'valid',
    createdAt: new Date(START).toISOString(),
  });
  const jwks = (await api.http.get('/.well-known/jwks.json')).body;
  const verifier = createLocalJWKSet(jwks);
  for (const ticket of tickets) {
    const { payload, protectedHeader } = await jwtVerify(ticket.code, verifier, {
      algorithms: ['EdDSA'],
    });
    t.deepEqual(payload, { tid: ticket.id, sch: 's1', seat: ticket.seatNo, sub: 'ann' });
    t.regex(protectedHeader.kid ?? '', /^ticket-/);
  }
  // Ed25519 is deterministic: the same code at every read.
  const again = (await api.http.get('/tickets').set(bearer(token))).body.tickets as Ticket[];
  t.deepEqual(
    again.map((ticket) => ticket.code).sort(),
    tickets.map((ticket) => ticket.code).sort(),
  );
});

test('GET /tickets needs a known queue token', async (t) => {
  const api = await startApi();
  assertProblem(t, await api.http.get('/tickets'), 'TOKEN_MISSING');
  assertProblem(t, await api.http.get('/tickets').set(bearer('nope')), 'TOKEN_INVALID');
  const { token } = await api.engine.issueToken('bob');
  t.deepEqual((await api.http.get('/tickets').set(bearer(token.token))).body, { tickets: [] });
});

test("signed in, GET /tickets needs no queue token; another user's token is 403", async (t) => {
  const api = await startApi({
    app: { resolveUserId: (ctx) => ctx.get('X-Host-User') || undefined },
  });
  const token = (await api.http.post('/queue/tokens').set('X-Host-User', 'ann')).body.token;
  await api.engine.tick();
  const hold = await api.engine.reserve(token, { scheduleId: 's1', seatNo: 1 });
  await api.engine.charge(token, { userId: 'ann', amount: 1_000 });
  await api.engine.pay(token, { reservationId: hold.id });
  const listed = assertAnswer(
    t,
    await api.http.get('/tickets').set('X-Host-User', 'ann'),
    200,
    schemas.TicketList,
  );
  t.is(listed.tickets.length, 1);
  assertProblem(t, await api.http.get('/tickets'), 'IDENTITY_MISSING');
  assertProblem(
    t,
    await api.http.get('/tickets').set('X-Host-User', 'bob').set(bearer(token)),
    'FORBIDDEN',
  );
});

test('POST /checkin: 404 without SCANNER_TOKEN, 401 with a wrong one', async (t) => {
  const off = await startApi();
  assertProblem(t, await off.http.post('/checkin').send({ code: 'x' }), 'NOT_FOUND');
  const api = await startApi(withDoor);
  assertProblem(t, await api.http.post('/checkin').send({ code: 'x' }), 'SCANNER_TOKEN_INVALID');
  assertProblem(
    t,
    await api.http.post('/checkin').set(bearer('wrong-scanner-token-00000')).send({ code: 'x' }),
    'SCANNER_TOKEN_INVALID',
  );
  assertProblem(
    t,
    await api.http.post('/checkin').set(admin).send({ code: 'x' }),
    'SCANNER_TOKEN_INVALID',
  );
  await t.throwsAsync(startApi({ app: { scannerToken: 'short' } }), { instanceOf: TypeError });
});

test('POST /checkin: 200 once, then 409 ALREADY_CHECKED_IN with the first time; bad codes 400', async (t) => {
  const api = await startApi(withDoor);
  const { tickets } = await buy(api, 'ann', 's1', [1]);
  const code = tickets[0]!.code;
  api.clock.increment(60_000);
  const first = assertAnswer(
    t,
    await api.http.post('/checkin').set(scanner).send({ code }),
    200,
    schemas.CheckIn,
  );
  t.deepEqual(first, {
    ticketId: tickets[0]!.id,
    scheduleId: 's1',
    seatNo: 1,
    checkedInAt: new Date(START + 60_000).toISOString(),
  });
  api.clock.increment(60_000);
  const again = assertProblem(
    t,
    await api.http.post('/checkin').set(scanner).send({ code }),
    'ALREADY_CHECKED_IN',
  );
  t.is(again.checkedInAt, first.checkedInAt);
  const [header, payload, signature] = code.split('.');
  const forged = `${header}.${Buffer.from(JSON.stringify({ tid: tickets[0]!.id, sch: 's1', seat: 2, sub: 'ann' })).toString('base64url')}.${signature}`;
  for (const bad of ['garbage', forged, `${header}.${payload}.`, 'a'.repeat(2_048)])
    assertProblem(
      t,
      await api.http.post('/checkin').set(scanner).send({ code: bad }),
      'TICKET_INVALID',
    );
  // A pass is signed by the same key set, with another key: not a ticket.
  const pass = (
    await api.http.get('/queue/tokens/current').set(bearer(await activeToken(api, 'cy')))
  ).body.pass as string;
  t.regex(decodeProtectedHeader(pass).kid ?? '', /^pass-/);
  assertProblem(
    t,
    await api.http.post('/checkin').set(scanner).send({ code: pass }),
    'TICKET_INVALID',
  );
  assertProblem(t, await api.http.post('/checkin').set(scanner).send({}), 'VALIDATION_FAILED');
  assertProblem(
    t,
    await api.http.post('/checkin').set(scanner).send({ code, extra: 1 }),
    'VALIDATION_FAILED',
  );
  t.is(
    (await api.http.get('/tickets').set(bearer(await activeToken(api, 'ann')))).body.tickets[0]
      .status,
    'checked_in',
  );
});

test('50 concurrent scans of one ticket: exactly one 200', async (t) => {
  const api = await startApi(withDoor);
  const { tickets } = await buy(api, 'ann', 's1', [7]);
  const answers = await Promise.all(
    Array.from({ length: 50 }, () =>
      api.http.post('/checkin').set(scanner).send({ code: tickets[0]!.code }),
    ),
  );
  t.is(answers.filter((answer) => answer.status === 200).length, 1);
  t.true(
    answers.every((answer) => answer.status === 200 || answer.body.code === 'ALREADY_CHECKED_IN'),
  );
});

test('POST /tickets/:id/refund: money back, seat on sale, code void, Idempotency-Key replayed', async (t) => {
  const api = await startApi(withDoor);
  const { token, tickets } = await buy(api, 'ann', 's2', [2]);
  const ticket = tickets[0]!;
  const first = await api.http
    .post(`/tickets/${ticket.id}/refund`)
    .set(bearer(token))
    .set('Idempotency-Key', 'refund-1');
  t.like(assertAnswer(t, first, 200, schemas.Ticket), { id: ticket.id, status: 'refunded' });
  t.is(first.headers['idempotent-replayed'], undefined);
  const retry = await api.http
    .post(`/tickets/${ticket.id}/refund`)
    .set(bearer(token))
    .set('Idempotency-Key', 'refund-1');
  t.is(retry.status, 200);
  t.is(retry.headers['idempotent-replayed'], 'true');
  t.deepEqual(retry.body, first.body);
  assertProblem(
    t,
    await api.http.post(`/tickets/${ticket.id}/refund`).set(bearer(token)),
    'TICKET_VOID',
  );
  assertProblem(
    t,
    await api.http.post('/checkin').set(scanner).send({ code: ticket.code }),
    'TICKET_VOID',
  );
  const ann = await activeToken(api, 'ann');
  t.deepEqual((await api.http.get('/users/ann/balance').set(bearer(ann))).body, {
    userId: 'ann',
    balance: 3_000,
  });
  t.true(
    (
      (await api.http.get('/schedules/s2/seats').set(bearer(ann))).body.seats as {
        seatNo: number;
      }[]
    ).some((seat) => seat.seatNo === 2),
  );
});

test("refunds: not another's, not after the cutoff (the operator may), not checked in", async (t) => {
  const api = await startApi({ ...withDoor, config: { refundCutoffMs: 86_400_000 } });
  const { token, tickets } = await buy(api, 'ann', 's1', [1, 2, 3]);
  const bob = await activeToken(api, 'bob');
  assertProblem(
    t,
    await api.http.post(`/tickets/${tickets[0]!.id}/refund`).set(bearer(bob)),
    'TICKET_NOT_FOUND',
  );
  assertProblem(
    t,
    await api.http.post('/tickets/nope/refund').set(bearer(token)),
    'TICKET_NOT_FOUND',
  );
  assertProblem(t, await api.http.post(`/tickets/${tickets[0]!.id}/refund`), 'TOKEN_MISSING');
  api.clock.set(Date.parse('2027-05-01T19:00:00+09:00') - 86_400_000 + 1);
  // The token kept after the payment is long forgotten: any token of hers will do.
  const later = await activeToken(api, 'ann');
  assertProblem(
    t,
    await api.http.post(`/tickets/${tickets[0]!.id}/refund`).set(bearer(later)),
    'REFUND_CLOSED',
  );
  assertProblem(
    t,
    await api.http.post(`/admin/tickets/${tickets[0]!.id}/refund`),
    'ADMIN_TOKEN_INVALID',
  );
  t.like(
    assertAnswer(
      t,
      await api.http.post(`/admin/tickets/${tickets[0]!.id}/refund`).set(admin),
      200,
      schemas.Ticket,
    ),
    { status: 'refunded', holder: 'ann' },
  );
  await api.http.post('/checkin').set(scanner).send({ code: tickets[1]!.code });
  assertProblem(
    t,
    await api.http.post(`/admin/tickets/${tickets[1]!.id}/refund`).set(admin),
    'ALREADY_CHECKED_IN',
  );
  assertProblem(
    t,
    await api.http.post(`/admin/tickets/${tickets[0]!.id}/refund`).set(admin),
    'TICKET_VOID',
  );
  const off = await startApi();
  assertProblem(t, await off.http.post('/admin/tickets/x/refund').set(admin), 'NOT_FOUND');
});

test('POST /tickets/:id/transfer: 201 a new ticket and code for the receiver; the old code is void', async (t) => {
  const api = await startApi(withDoor);
  const { token, tickets } = await buy(api, 'ann', 's1', [5]);
  const old = tickets[0]!;
  const moved = await api.http
    .post(`/tickets/${old.id}/transfer`)
    .set(bearer(token))
    .set('Idempotency-Key', 'gift')
    .send({ toUserId: 'bob' });
  const given = assertAnswer(t, moved, 201, schemas.Ticket);
  t.not(given.id, old.id);
  t.not(given.code, old.code);
  t.like(given, { holder: 'bob', seatNo: 5, status: 'valid' });
  const retry = await api.http
    .post(`/tickets/${old.id}/transfer`)
    .set(bearer(token))
    .set('Idempotency-Key', 'gift')
    .send({ toUserId: 'bob' });
  t.is(retry.status, 201);
  t.is(retry.headers['idempotent-replayed'], 'true');
  t.deepEqual(retry.body, given);
  assertProblem(
    t,
    await api.http
      .post(`/tickets/${old.id}/transfer`)
      .set(bearer(token))
      .set('Idempotency-Key', 'gift')
      .send({ toUserId: 'cy' }),
    'IDEMPOTENCY_KEY_REUSED',
  );
  assertProblem(
    t,
    await api.http.post('/checkin').set(scanner).send({ code: old.code }),
    'TICKET_VOID',
  );
  t.is((await api.http.post('/checkin').set(scanner).send({ code: given.code })).status, 200);
  const bob = await activeToken(api, 'bob');
  t.deepEqual(
    ((await api.http.get('/tickets').set(bearer(bob))).body.tickets as Ticket[]).map((x) => x.id),
    [given.id],
  );
  for (const body of [{}, { toUserId: '' }, { toUserId: 'cy', extra: true }, { toUserId: 7 }])
    assertProblem(
      t,
      await api.http.post(`/tickets/${given.id}/transfer`).set(bearer(bob)).send(body),
      'VALIDATION_FAILED',
    );
  assertProblem(
    t,
    await api.http.post(`/tickets/${given.id}/transfer`).set(bearer(bob)).send({ toUserId: 'cy' }),
    'ALREADY_CHECKED_IN',
  );
});

test('the ticket routes are in the OpenAPI document, the door and operator ones only when on', async (t) => {
  const paths = (api: Api) =>
    api.http.get('/openapi.json').then((answer) => Object.keys(answer.body.paths as object));
  const on = await paths(await startApi(withDoor));
  for (const path of [
    '/tickets',
    '/tickets/{ticketId}/refund',
    '/tickets/{ticketId}/transfer',
    '/admin/tickets/{ticketId}/refund',
    '/checkin',
  ])
    t.true(on.includes(path), path);
  const off = await paths(await startApi());
  t.false(off.includes('/checkin'));
  t.false(off.includes('/admin/tickets/{ticketId}/refund'));
});
