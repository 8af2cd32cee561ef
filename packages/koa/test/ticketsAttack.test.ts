/**
 * Hostile tests of the ticket routes (SPEC §11): forged and foreign codes,
 * idempotency keys reused, transfer chains and odd receivers, the refund
 * cutoff's exact edge, money at the integer edges. The real Koa app over the
 * engine (embedded, or PostgreSQL when run from `test/postgres/`).
 */
import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import { SignJWT } from 'jose';
import { schemas } from '@usher/koa';
import { SigningKeys } from '@usher/engine/signing';
import {
  activeToken,
  assertAnswer,
  assertProblem,
  bearer,
  durable,
  startApi,
  type Api,
} from './helpers/api.js';

const SCANNER = 'scanner-token-of-the-door-0123';
const ADMIN = 'admin-token-of-the-operator-0123';
const scanner = { Authorization: `Bearer ${SCANNER}` };
const withDoor = { app: { scannerToken: SCANNER, adminToken: ADMIN } };

type Ticket = ReturnType<typeof schemas.Ticket.parse>;

/** `userId` buys `seatNos` of `scheduleId`; answers their token (kept after the payment) and tickets. */
async function buy(api: Api, userId: string, scheduleId: string, seatNos: number[]) {
  const token = await activeToken(api, userId);
  const hold = await api.http
    .post('/reservations')
    .set(bearer(token))
    .send({ scheduleId, seatNos });
  if (hold.status !== 201) throw new Error(JSON.stringify(hold.body));
  const amount = (hold.body as { amount: number }).amount;
  const charged = await api.http
    .post(`/users/${encodeURIComponent(userId)}/balance/charge`)
    .set(bearer(token))
    .send({ amount });
  if (charged.status !== 200) throw new Error(JSON.stringify(charged.body));
  const paid = await api.http
    .post('/payments')
    .set(bearer(token))
    .send({ reservationId: (hold.body as { id: string }).id });
  if (paid.status !== 201) throw new Error(JSON.stringify(paid.body));
  const { tickets } = (await api.http.get('/tickets').set(bearer(token))).body as {
    tickets: Ticket[];
  };
  return {
    token,
    tickets: tickets
      .filter((ticket) => ticket.status === 'valid' && ticket.scheduleId === scheduleId)
      .sort((a, b) => a.seatNo - b.seatNo),
  };
}

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

test('forged codes: alg none, HS256 keyed with the public key, a foreign key under our kid, an embedded jwk, crit: all 400 TICKET_INVALID, nothing checked in', async (t) => {
  const api = await startApi(withDoor);
  const { tickets } = await buy(api, 'ann', 's1', [1]);
  const ticket = tickets[0]!;
  const claims = { tid: ticket.id, sch: 's1', seat: 1, sub: 'ann' };
  const jwks = (await api.http.get('/.well-known/jwks.json')).body as {
    keys: { kid: string; x: string }[];
  };
  const ours = jwks.keys.find((key) => key.kid.startsWith('ticket-'))!;
  const pem = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: ours.x },
    format: 'jwk',
  }).export({ format: 'pem', type: 'spki' });
  const hs = (secret: string | Buffer, header: object) => {
    const signing = `${b64(header)}.${b64(claims)}`;
    return `${signing}.${createHmac('sha256', secret).update(signing).digest('base64url')}`;
  };
  const foreign = generateKeyPairSync('ed25519');
  const foreignJwk = foreign.publicKey.export({ format: 'jwk' });
  const otherInstall = await SigningKeys.open();
  const forged = [
    `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    `${b64({ alg: 'none', kid: ours.kid })}.${b64(claims)}.`,
    hs(pem, { alg: 'HS256', kid: ours.kid }),
    hs(ours.x, { alg: 'HS256', kid: ours.kid }),
    hs(Buffer.from(ours.x, 'base64url'), { alg: 'HS256', kid: ours.kid }),
    hs(JSON.stringify(ours), { alg: 'HS256', kid: ours.kid }),
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: ours.kid })
      .sign(foreign.privateKey),
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: ours.kid, jwk: { ...foreignJwk } as never })
      .sign(foreign.privateKey),
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', jwk: { ...foreignJwk } as never })
      .sign(foreign.privateKey),
    await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).sign(foreign.privateKey),
    await otherInstall.sign('ticket', claims),
    // Our own signature with a header edited: crit, another kid, no kid.
    `${b64({ alg: 'EdDSA', kid: ours.kid, crit: ['x'], x: 1 })}.${ticket.code.split('.')[1]}.${ticket.code.split('.')[2]}`,
    `${b64({ alg: 'EdDSA' })}.${ticket.code.split('.')[1]}.${ticket.code.split('.')[2]}`,
    // Padding, whitespace, case: not the code.
    `${ticket.code}=`,
    ` ${ticket.code}`,
    `${ticket.code}.${ticket.code.split('.')[2]}`,
    ticket.code.split('.').slice(0, 2).join('.'),
    '...',
    '.',
    'ey.ey.ey',
    '\u0000'.repeat(100),
    '😀'.repeat(1_000),
  ];
  const before = await durable(api);
  const accepted: string[] = [];
  for (const code of forged) {
    const answer = await api.http.post('/checkin').set(scanner).send({ code });
    if (answer.status !== 400 || answer.body.code !== 'TICKET_INVALID')
      accepted.push(`#${forged.indexOf(code)} ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  t.deepEqual(accepted, []);
  // Not a string, or huge: refused, never a 5xx.
  for (const code of [1, null, [ticket.code], { code: ticket.code }, true, 'x'.repeat(100_000)]) {
    const answer = await api.http.post('/checkin').set(scanner).send({ code });
    t.true([400, 413].includes(answer.status), `${String(code).slice(0, 40)} → ${answer.status}`);
  }
  t.is(await durable(api), before);
  t.deepEqual(api.faults, []);
  // The genuine code still checks in.
  t.is((await api.http.post('/checkin').set(scanner).send({ code: ticket.code })).status, 200);
});

test('a code of a transferred ticket, or of a refunded one, is TICKET_VOID; the receiver’s code checks in once', async (t) => {
  const api = await startApi(withDoor);
  const { token, tickets } = await buy(api, 'ann', 's1', [1, 2]);
  const given = (
    await api.http
      .post(`/tickets/${tickets[0]!.id}/transfer`)
      .set(bearer(token))
      .send({ toUserId: 'bob' })
  ).body as Ticket;
  await api.http.post(`/tickets/${tickets[1]!.id}/refund`).set(bearer(token));
  assertProblem(
    t,
    await api.http.post('/checkin').set(scanner).send({ code: tickets[0]!.code }),
    'TICKET_VOID',
  );
  assertProblem(
    t,
    await api.http.post('/checkin').set(scanner).send({ code: tickets[1]!.code }),
    'TICKET_VOID',
  );
  t.is((await api.http.post('/checkin').set(scanner).send({ code: given.code })).status, 200);
  // After check-in, the receiver can neither refund, nor transfer back.
  const bob = await activeToken(api, 'bob');
  assertProblem(
    t,
    await api.http.post(`/tickets/${given.id}/refund`).set(bearer(bob)),
    'ALREADY_CHECKED_IN',
  );
  assertProblem(
    t,
    await api.http.post(`/tickets/${given.id}/transfer`).set(bearer(bob)).send({ toUserId: 'ann' }),
    'ALREADY_CHECKED_IN',
  );
});

test('Idempotency-Key reused for another ticket, another receiver, or a refund: 409 IDEMPOTENCY_KEY_REUSED, nothing changes', async (t) => {
  const api = await startApi(withDoor);
  const { token, tickets } = await buy(api, 'ann', 's1', [1, 2]);
  const [one, two] = [tickets[0]!, tickets[1]!];
  const first = await api.http
    .post(`/tickets/${one.id}/transfer`)
    .set(bearer(token))
    .set('Idempotency-Key', 'k1')
    .send({ toUserId: 'bob' });
  t.is(first.status, 201);
  const before = await durable(api);
  const reuses = [
    api.http
      .post(`/tickets/${one.id}/transfer`)
      .set(bearer(token))
      .set('Idempotency-Key', 'k1')
      .send({ toUserId: 'cy' }),
    api.http
      .post(`/tickets/${two.id}/transfer`)
      .set(bearer(token))
      .set('Idempotency-Key', 'k1')
      .send({ toUserId: 'bob' }),
    api.http.post(`/tickets/${two.id}/refund`).set(bearer(token)).set('Idempotency-Key', 'k1'),
    api.http.post(`/tickets/${one.id}/refund`).set(bearer(token)).set('Idempotency-Key', 'k1'),
  ];
  for (const answer of await Promise.all(reuses))
    assertProblem(t, answer, 'IDEMPOTENCY_KEY_REUSED');
  t.is(await durable(api), before);
  // The same key, the same request: the first answer, replayed, with the same code.
  const again = await api.http
    .post(`/tickets/${one.id}/transfer`)
    .set(bearer(token))
    .set('Idempotency-Key', 'k1')
    .send({ toUserId: 'bob' });
  t.is(again.status, 201);
  t.is(again.headers['idempotent-replayed'], 'true');
  t.deepEqual(again.body, first.body);
  // Another user's same key is theirs: bob's k1 is not ann's.
  const bob = await activeToken(api, 'bob');
  const bobs = await api.http
    .post(`/tickets/${(first.body as Ticket).id}/transfer`)
    .set(bearer(bob))
    .set('Idempotency-Key', 'k1')
    .send({ toUserId: 'ann' });
  t.is(bobs.status, 201, JSON.stringify(bobs.body));
  t.is(bobs.headers['idempotent-replayed'], undefined);
});

test('a transfer chain ann → bob → ann → bob: each hop a new id and code, only the last code enters, the limit counts live tickets only', async (t) => {
  const api = await startApi({ ...withDoor, config: { maxTicketsPerUser: 1 } });
  const { token, tickets } = await buy(api, 'ann', 's1', [4]);
  const tokens: Record<string, string> = { ann: token, bob: await activeToken(api, 'bob') };
  let current = tickets[0]!;
  const codes = [current.code];
  for (const to of ['bob', 'ann', 'bob']) {
    const from = current.holder;
    const moved = await api.http
      .post(`/tickets/${current.id}/transfer`)
      .set(bearer(tokens[from]!))
      .send({ toUserId: to });
    const next = assertAnswer(t, moved, 201, schemas.Ticket);
    t.is(next.holder, to);
    t.false(codes.includes(next.code));
    codes.push(next.code);
    current = next;
  }
  for (const code of codes.slice(0, -1))
    assertProblem(t, await api.http.post('/checkin').set(scanner).send({ code }), 'TICKET_VOID');
  t.is(
    (
      await api.http
        .post('/checkin')
        .set(scanner)
        .send({ code: codes.at(-1) })
    ).status,
    200,
  );
  // The seat is in exactly one live ticket.
  const contents = await api.contents();
  const live = [...contents.tickets.values()].filter(
    (ticket) => ticket.seatNo === 4 && ticket.scheduleId === 's1' && ticket.status !== 'refunded',
  );
  t.is(live.filter((ticket) => ticket.status !== 'transferred').length, 1);
});

test('transfers to odd receivers: refused by the user-id rule (400) and nothing changes; any visible id is fine', async (t) => {
  const api = await startApi(withDoor);
  const { token, tickets } = await buy(api, 'ann', 's1', [1, 2]);
  const ticket = tickets[0]!;
  const before = await durable(api);
  for (const toUserId of [
    '',
    ' bob',
    'bob ',
    'ann',
    'a'.repeat(129),
    'bo\u202Eb',
    'b\u200Bob',
    'Jose\u0301',
    '\uD800',
    'bob\n',
    '\uFFFF',
    1,
    null,
    ['bob'],
    { id: 'bob' },
  ]) {
    const answer = await api.http
      .post(`/tickets/${ticket.id}/transfer`)
      .set(bearer(token))
      .send({ toUserId });
    assertProblem(t, answer, 'VALIDATION_FAILED');
  }
  assertProblem(
    t,
    await api.http.post(`/tickets/${ticket.id}/transfer`).set(bearer(token)).send({}),
    'VALIDATION_FAILED',
  );
  assertProblem(
    t,
    await api.http
      .post(`/tickets/${ticket.id}/transfer`)
      .set(bearer(token))
      .send({ toUserId: 'bob', extra: true }),
    'VALIDATION_FAILED',
  );
  t.is(await durable(api), before);
  const odd = assertAnswer(
    t,
    await api.http
      .post(`/tickets/${ticket.id}/transfer`)
      .set(bearer(token))
      .send({ toUserId: '😀 Zoë/../x?y#z' }),
    201,
    schemas.Ticket,
  );
  t.is(odd.holder, '😀 Zoë/../x?y#z');
  const zoe = await activeToken(api, '😀 Zoë/../x?y#z');
  const listed = (await api.http.get('/tickets').set(bearer(zoe))).body.tickets as Ticket[];
  t.deepEqual(
    listed.map((x) => x.id),
    [odd.id],
  );
});

test('a stranger who knows a ticket id (and a signed-in user id) can neither refund, transfer nor list it', async (t) => {
  const api = await startApi({
    ...withDoor,
    app: { ...withDoor.app, resolveUserId: (ctx) => ctx.get('X-Host-User') || undefined },
  });
  const annToken = (await api.http.post('/queue/tokens').set('X-Host-User', 'ann')).body.token;
  await api.engine.tick();
  const hold = await api.engine.reserve(annToken, { scheduleId: 's1', seatNo: 1 });
  await api.engine.charge(annToken, { userId: 'ann', amount: 1_000 });
  await api.engine.pay(annToken, { reservationId: hold.id });
  const ticket = (
    (await api.http.get('/tickets').set('X-Host-User', 'ann')).body.tickets as Ticket[]
  )[0]!;
  const before = await durable(api);
  // Mallory, signed in as herself, with Ann's ids (and even Ann's queue token).
  const tries = [
    api.http.post(`/tickets/${ticket.id}/refund`).set('X-Host-User', 'mallory'),
    api.http
      .post(`/tickets/${ticket.id}/transfer`)
      .set('X-Host-User', 'mallory')
      .send({ toUserId: 'mallory' }),
    api.http
      .post(`/tickets/${ticket.id}/transfer`)
      .set('X-Host-User', 'mallory')
      .set(bearer(annToken))
      .send({ toUserId: 'mallory' }),
    api.http
      .post(`/tickets/${ticket.id}/refund`)
      .set('X-Host-User', 'mallory')
      .set(bearer(annToken)),
    api.http.post(`/tickets/${ticket.id}/refund`).set(bearer(annToken)),
    api.http
      .post(`/tickets/${encodeURIComponent(ticket.id + ' ')}/refund`)
      .set('X-Host-User', 'ann'),
  ];
  for (const answer of await Promise.all(tries))
    t.true([400, 401, 403, 404].includes(answer.status), JSON.stringify(answer.body));
  t.is(await durable(api), before);
  const mallory = (await api.http.get('/tickets').set('X-Host-User', 'mallory')).body;
  t.deepEqual(mallory, { tickets: [] });
});

test('the refund cutoff to the millisecond: at startsAt − REFUND_CUTOFF_MS a refund is taken, one ms later REFUND_CLOSED', async (t) => {
  const cutoff = 3_600_000;
  const api = await startApi({ ...withDoor, config: { refundCutoffMs: cutoff } });
  const { tickets } = await buy(api, 'ann', 's1', [1, 2]);
  const startsAt = Date.parse('2027-05-01T19:00:00+09:00');
  api.clock.set(startsAt - cutoff);
  const ann = await activeToken(api, 'ann');
  assertAnswer(
    t,
    await api.http.post(`/tickets/${tickets[0]!.id}/refund`).set(bearer(ann)),
    200,
    schemas.Ticket,
  );
  api.clock.set(startsAt - cutoff + 1);
  const ann2 = await activeToken(api, 'ann');
  assertProblem(
    t,
    await api.http.post(`/tickets/${tickets[1]!.id}/refund`).set(bearer(ann2)),
    'REFUND_CLOSED',
  );
  // The show started, and is over: still closed for the holder; the operator may.
  api.clock.set(startsAt + 86_400_000);
  const ann3 = await activeToken(api, 'ann');
  assertProblem(
    t,
    await api.http.post(`/tickets/${tickets[1]!.id}/refund`).set(bearer(ann3)),
    'REFUND_CLOSED',
  );
});

test('REFUND_CUTOFF_MS=0: the holder may refund until the show starts, not after it started', async (t) => {
  const api = await startApi({ ...withDoor, config: { refundCutoffMs: 0 } });
  const { tickets } = await buy(api, 'ann', 's1', [1, 2]);
  const startsAt = Date.parse('2027-05-01T19:00:00+09:00');
  api.clock.set(startsAt + 1);
  const ann = await activeToken(api, 'ann');
  assertProblem(
    t,
    await api.http.post(`/tickets/${tickets[1]!.id}/refund`).set(bearer(ann)),
    'REFUND_CLOSED',
  );
});

test('money at the integer edge: a refund never carries a balance past Number.MAX_SAFE_INTEGER (maxBalance does not apply to it)', async (t) => {
  // The widest limits the config takes: a balance of 8e15, charges of 1e15.
  const api = await startApi({
    ...withDoor,
    config: { maxChargeAmount: 1e15, maxBalance: 8e15 },
  });
  const price = 4e15 + 1;
  await api.engine.loadCatalog({
    concerts: [{ id: 'c1', title: 'Spring Concert', artist: 'IU' }],
    schedules: [
      {
        id: 'big',
        concertId: 'c1',
        startsAt: '2027-05-01T19:00:00+09:00',
        totalSeats: 2,
        price,
      },
    ],
  });
  const ann = await activeToken(api, 'ann');
  const charge = (amount: number) =>
    api.http.post('/users/ann/balance/charge').set(bearer(ann)).send({ amount });
  for (const amount of [1e15, 1e15, 1e15, 1e15, 1]) t.is((await charge(amount)).status, 200);
  const hold = await api.http
    .post('/reservations')
    .set(bearer(ann))
    .send({ scheduleId: 'big', seatNo: 1 });
  t.is(hold.status, 201, JSON.stringify(hold.body));
  const paid = await api.http
    .post('/payments')
    .set(bearer(ann))
    .send({ reservationId: hold.body.id });
  t.is(paid.status, 201, JSON.stringify(paid.body));
  const ann2 = await activeToken(api, 'ann');
  for (let i = 0; i < 8; i++)
    t.is(
      (await api.http.post('/users/ann/balance/charge').set(bearer(ann2)).send({ amount: 1e15 }))
        .status,
      200,
    );
  const ticket = ((await api.http.get('/tickets').set(bearer(ann2))).body.tickets as Ticket[])[0]!;
  const refund = await api.http.post(`/tickets/${ticket.id}/refund`).set(bearer(ann2));
  const balance = (await api.engine.getBalance(ann2, 'ann')).balance;
  t.true(Number.isSafeInteger(balance), `balance ${balance} after a ${refund.status} refund`);
  if (refund.status === 200) t.is(balance, 8e15 + price);
  else {
    assertProblem(t, refund, 'BALANCE_LIMIT');
    t.is(balance, 8e15);
  }
  // (The running totals `charged` and `paid` are not bounded: 8 + 4 charges of 1e15 passed
  // 2^53 here already. Not the refund's doing: see notes/attack2.md.)
  const wallet = (await api.contents()).wallets.get('ann')!;
  t.true(Number.isSafeInteger(wallet.balance) && Number.isSafeInteger(wallet.refunded ?? 0));
});

test('a refund, a transfer, an operator refund and two scans of each of 4 tickets at once: exactly one wins per ticket, money and seats add up', async (t) => {
  const api = await startApi(withDoor);
  const { token, tickets } = await buy(api, 'ann', 's1', [1, 2, 3, 4]);
  const admin = { Authorization: `Bearer ${ADMIN}` };
  const answers = await Promise.all(
    tickets.flatMap((ticket) => [
      api.http.post(`/tickets/${ticket.id}/refund`).set(bearer(token)),
      api.http.post(`/tickets/${ticket.id}/transfer`).set(bearer(token)).send({ toUserId: 'bob' }),
      api.http.post(`/admin/tickets/${ticket.id}/refund`).set(admin),
      api.http.post('/checkin').set(scanner).send({ code: ticket.code }),
      api.http.post('/checkin').set(scanner).send({ code: ticket.code }),
    ]),
  );
  for (let i = 0; i < tickets.length; i++) {
    const mine = answers.slice(i * 5, i * 5 + 5);
    t.is(
      mine.filter((answer) => answer.status === 200 || answer.status === 201).length,
      1,
      mine.map((answer) => `${answer.status} ${answer.body.code ?? ''}`).join(', '),
    );
    t.true(mine.every((answer) => answer.status < 500));
  }
  const contents = await api.contents();
  const refunded = [...contents.tickets.values()].filter((x) => x.status === 'refunded').length;
  t.is(contents.wallets.get('ann')?.balance, refunded * 1_000);
  t.deepEqual(api.faults, []);
});
