import type { UsherEngine } from '@usher/engine';
import { isReplay } from '@usher/engine';
import { activeToken, manual, rejects, settle, START } from '@usher/testkit';
import { behaviourOn, engineKinds, type EngineKind } from './helpers/engines.js';
import { assertInvariants } from './helpers/invariants.js';

/** SPEC §11 tickets (issue 23), on both engines. */
const engines: readonly EngineKind[] = engineKinds;

/** `userId` buys `seatNos` of `scheduleId` (charging what they cost); answers the tickets. */
async function buy(engine: UsherEngine, userId: string, scheduleId: string, seatNos: number[]) {
  const token = await activeToken(engine, userId);
  const hold = await engine.reserve(token, { scheduleId, seatNos });
  await engine.charge(token, { userId, amount: hold.amount });
  await engine.pay(token, { reservationId: hold.id });
  const tickets = (await engine.listTickets(userId)).filter((t) => t.reservationId === hold.id);
  return { token, hold, tickets: [...tickets].sort((a, b) => a.seatNo - b.seatNo) };
}

const claimsOf = (ticket: { id: string; scheduleId: string; seatNo: number; holder: string }) => ({
  tid: ticket.id,
  sch: ticket.scheduleId,
  seat: ticket.seatNo,
  sub: ticket.holder,
});

behaviourOn(engines, 'a paid reservation of k seats is k valid tickets', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const { hold, tickets } = await buy(engine, 'ann', 's2', [1, 3]);
  t.deepEqual(
    tickets.map(({ seatNo, price, status, holder, concertId, scheduleId }) => ({
      seatNo,
      price,
      status,
      holder,
      concertId,
      scheduleId,
    })),
    [
      {
        seatNo: 1,
        price: 3_000,
        status: 'valid',
        holder: 'ann',
        concertId: 'c1',
        scheduleId: 's2',
      },
      {
        seatNo: 3,
        price: 2_000,
        status: 'valid',
        holder: 'ann',
        concertId: 'c1',
        scheduleId: 's2',
      },
    ],
  );
  t.deepEqual(
    tickets.map((ticket) => ticket.id),
    [`${hold.id}-1`, `${hold.id}-3`],
  );
  t.is(tickets[0]!.createdAt, new Date(START).toISOString());
  t.deepEqual(await engine.listTickets('bob'), []);
  await rejects(t, engine.listTickets(''), 'VALIDATION_FAILED');
  const contents = await kit.durable();
  t.is(contents.tickets.size, 2);
  assertInvariants(t, contents);
});

behaviourOn(engines, 'tickets are listed newest first', async (t, kit) => {
  const { engine, clock } = await kit.start({ config: manual });
  await buy(engine, 'ann', 's1', [1]);
  clock.increment(1_000);
  await buy(engine, 'ann', 's3', [1]);
  t.deepEqual(
    (await engine.listTickets('ann')).map((ticket) => ticket.scheduleId),
    ['s3', 's1'],
  );
});

behaviourOn(engines, 'a ticket checks in once', async (t, kit) => {
  const { engine, clock } = await kit.start({ config: manual });
  const { tickets } = await buy(engine, 'ann', 's1', [4]);
  const ticket = tickets[0]!;
  clock.increment(5_000);
  const first = await engine.checkIn(claimsOf(ticket));
  t.deepEqual(first, {
    ticketId: ticket.id,
    scheduleId: 's1',
    seatNo: 4,
    checkedInAt: new Date(START + 5_000).toISOString(),
  });
  clock.increment(5_000);
  const again = await rejects(t, engine.checkIn(claimsOf(ticket)), 'ALREADY_CHECKED_IN');
  t.is(again.details.checkedInAt, first.checkedInAt);
  const [listed] = await engine.listTickets('ann');
  t.like(listed, { status: 'checked_in', checkedInAt: first.checkedInAt });
  assertInvariants(t, await kit.durable());
});

behaviourOn(engines, 'claims that match no ticket are TICKET_INVALID', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const { tickets } = await buy(engine, 'ann', 's1', [4]);
  const claims = claimsOf(tickets[0]!);
  for (const wrong of [
    { ...claims, tid: 'nope' },
    { ...claims, sch: 's2' },
    { ...claims, seat: 5 },
    { ...claims, sub: 'bob' },
    { ...claims, seat: 0 },
    { ...claims, tid: '' },
  ])
    await rejects(t, engine.checkIn(wrong), 'TICKET_INVALID');
  t.is((await engine.listTickets('ann'))[0]!.status, 'valid');
});

behaviourOn(
  engines,
  'of many concurrent check-ins of one ticket exactly one wins',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const { tickets } = await buy(engine, 'ann', 's1', [2]);
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => settle(engine.checkIn(claimsOf(tickets[0]!)))),
    );
    t.is(outcomes.filter((o) => o.ok).length, 1);
    t.true(outcomes.every((o) => o.ok || o.code === 'ALREADY_CHECKED_IN'));
  },
);

behaviourOn(
  engines,
  'a refund gives the price back and frees the seat, once, with its key replayed',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: manual });
    const { tickets } = await buy(engine, 'ann', 's2', [1, 3]);
    const [first] = tickets;
    clock.increment(1_000);
    const refunded = await engine.refundTicket(
      first!.id,
      { userId: 'ann' },
      { idempotencyKey: 'r-1' },
    );
    t.like(refunded, {
      id: first!.id,
      status: 'refunded',
      refundedAt: new Date(START + 1_000).toISOString(),
    });
    t.false(isReplay(refunded));
    const replay = await engine.refundTicket(
      first!.id,
      { userId: 'ann' },
      { idempotencyKey: 'r-1' },
    );
    t.true(isReplay(replay));
    t.deepEqual(replay, refunded);
    await rejects(
      t,
      engine.refundTicket(tickets[1]!.id, { userId: 'ann' }, { idempotencyKey: 'r-1' }),
      'IDEMPOTENCY_KEY_REUSED',
    );
    await rejects(t, engine.refundTicket(first!.id, { userId: 'ann' }), 'TICKET_VOID');
    const bob = await activeToken(engine, 'bob');
    t.true((await engine.listSeats(bob, 's2')).seats.some((seat) => seat.seatNo === 1));
    const ann = await activeToken(engine, 'ann');
    t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 3_000 });
    // The freed seat sells again, and the refunded ticket stays refunded.
    await buy(engine, 'bob', 's2', [1]);
    await rejects(t, engine.checkIn(claimsOf(first!)), 'TICKET_VOID');
    const contents = await kit.durable();
    t.is(contents.wallets.get('ann')?.refunded, 3_000);
    assertInvariants(t, contents);
  },
);

behaviourOn(
  engines,
  'refunds: own tickets only, not checked in, not past the cutoff',
  async (t, kit) => {
    const startsAt = Date.parse('2027-05-01T19:00:00+09:00');
    const { engine, clock } = await kit.start({ config: { ...manual, refundCutoffMs: 3_600_000 } });
    const { tickets } = await buy(engine, 'ann', 's1', [1, 2, 3]);
    const [a, b, c] = tickets;
    await rejects(t, engine.refundTicket(a!.id, { userId: 'bob' }), 'TICKET_NOT_FOUND');
    await rejects(t, engine.refundTicket('missing', { userId: 'ann' }), 'TICKET_NOT_FOUND');
    await rejects(t, engine.refundTicket('', { userId: 'ann' }), 'VALIDATION_FAILED');
    await engine.checkIn(claimsOf(a!));
    await rejects(t, engine.refundTicket(a!.id, { userId: 'ann' }), 'ALREADY_CHECKED_IN');
    clock.set(startsAt - 3_600_000);
    t.is((await engine.refundTicket(b!.id, { userId: 'ann' })).status, 'refunded');
    clock.set(startsAt - 3_600_000 + 1);
    await rejects(t, engine.refundTicket(c!.id, { userId: 'ann' }), 'REFUND_CLOSED');
    // The operator refunds any unused ticket at any time, but not a checked-in one.
    await rejects(
      t,
      engine.refundTicket(c!.id, { operator: true }, { idempotencyKey: 'k' }),
      'VALIDATION_FAILED',
    );
    clock.set(startsAt + 3_600_000);
    t.is((await engine.refundTicket(c!.id, { operator: true })).status, 'refunded');
    await rejects(t, engine.refundTicket(a!.id, { operator: true }), 'ALREADY_CHECKED_IN');
    await rejects(t, engine.refundTicket(c!.id, { operator: true }), 'TICKET_VOID');
    const listed = await engine.listTickets('ann');
    t.deepEqual(listed.map((ticket) => [ticket.seatNo, ticket.status]).sort(), [
      [1, 'checked_in'],
      [2, 'refunded'],
      [3, 'refunded'],
    ]);
    const contents = await kit.durable();
    t.is(contents.tickets.get(c!.id)?.refundedBy, 'operator');
    t.is(contents.wallets.get('ann')?.balance, 2_000);
    assertInvariants(t, contents);
  },
);

behaviourOn(
  engines,
  'a transfer issues the receiver a new ticket; the old code is void at the door',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: manual });
    const { tickets } = await buy(engine, 'ann', 's1', [5]);
    const old = tickets[0]!;
    clock.increment(1_000);
    const given = await engine.transferTicket(
      old.id,
      { userId: 'ann', toUserId: 'bob' },
      { idempotencyKey: 't-1' },
    );
    t.not(given.id, old.id);
    t.like(given, {
      reservationId: old.reservationId,
      scheduleId: 's1',
      seatNo: 5,
      price: 1_000,
      holder: 'bob',
      status: 'valid',
      createdAt: new Date(START + 1_000).toISOString(),
    });
    const replay = await engine.transferTicket(
      old.id,
      { userId: 'ann', toUserId: 'bob' },
      { idempotencyKey: 't-1' },
    );
    t.true(isReplay(replay));
    t.deepEqual(replay, given);
    await rejects(
      t,
      engine.transferTicket(old.id, { userId: 'ann', toUserId: 'cy' }, { idempotencyKey: 't-1' }),
      'IDEMPOTENCY_KEY_REUSED',
    );
    await rejects(
      t,
      engine.transferTicket(old.id, { userId: 'ann', toUserId: 'cy' }),
      'TICKET_VOID',
    );
    await rejects(t, engine.checkIn(claimsOf(old)), 'TICKET_VOID');
    await rejects(t, engine.refundTicket(old.id, { userId: 'ann' }), 'TICKET_VOID');
    t.like((await engine.listTickets('ann'))[0], {
      id: old.id,
      status: 'transferred',
      transferredAt: new Date(START + 1_000).toISOString(),
    });
    t.deepEqual(
      (await engine.listTickets('bob')).map((ticket) => ticket.id),
      [given.id],
    );
    t.is((await engine.checkIn(claimsOf(given))).ticketId, given.id);
    await rejects(
      t,
      engine.transferTicket(given.id, { userId: 'bob', toUserId: 'cy' }),
      'ALREADY_CHECKED_IN',
    );
    assertInvariants(t, await kit.durable());
  },
);

behaviourOn(
  engines,
  'transfers: own tickets, another user, within their ticket limit',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, maxTicketsPerUser: 2 } });
    const { tickets } = await buy(engine, 'ann', 's1', [1, 2]);
    await buy(engine, 'bob', 's1', [3]);
    const bobToken = await activeToken(engine, 'bob');
    await engine.reserve(bobToken, { scheduleId: 's1', seatNo: 4 });
    const [a, b] = tickets;
    await rejects(
      t,
      engine.transferTicket(a!.id, { userId: 'bob', toUserId: 'cy' }),
      'TICKET_NOT_FOUND',
    );
    await rejects(
      t,
      engine.transferTicket(a!.id, { userId: 'ann', toUserId: 'ann' }),
      'VALIDATION_FAILED',
    );
    await rejects(
      t,
      engine.transferTicket(a!.id, { userId: 'ann', toUserId: ' x' }),
      'VALIDATION_FAILED',
    );
    // Bob has a ticket and a held seat of s1: two, his limit.
    await rejects(
      t,
      engine.transferTicket(a!.id, { userId: 'ann', toUserId: 'bob' }),
      'TICKET_LIMIT_REACHED',
    );
    await engine.transferTicket(a!.id, { userId: 'ann', toUserId: 'cy' });
    await engine.transferTicket(b!.id, { userId: 'ann', toUserId: 'cy' });
    // Ann has given both away: she may buy two seats of s1 again.
    const ann = await activeToken(engine, 'ann');
    t.is((await engine.reserve(ann, { scheduleId: 's1', seatNos: [6, 7] })).seats.length, 2);
    assertInvariants(t, await kit.durable());
  },
);

behaviourOn(
  engines,
  'a refunded ticket no longer counts toward the ticket limit',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, maxTicketsPerUser: 1 } });
    const { tickets } = await buy(engine, 'ann', 's1', [1]);
    const ann = await activeToken(engine, 'ann');
    await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 2 }), 'TICKET_LIMIT_REACHED');
    await engine.refundTicket(tickets[0]!.id, { userId: 'ann' });
    t.is((await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 })).seatNo, 2);
  },
);

behaviourOn(
  engines,
  'refund, transfer and check-in of one ticket at once: exactly one wins',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    for (let round = 0; round < 5; round++) {
      const { tickets } = await buy(engine, `u${round}`, 's1', [round + 1]);
      const ticket = tickets[0]!;
      const outcomes = await Promise.all([
        settle(engine.refundTicket(ticket.id, { userId: ticket.holder })),
        settle(engine.transferTicket(ticket.id, { userId: ticket.holder, toUserId: `z${round}` })),
        settle(engine.checkIn(claimsOf(ticket))),
        settle(engine.refundTicket(ticket.id, { operator: true })),
      ]);
      t.is(outcomes.filter((o) => o.ok).length, 1, JSON.stringify(outcomes));
    }
    assertInvariants(t, await kit.durable());
  },
);

behaviourOn(engines, 'tickets and check-ins survive a restart', async (t, kit) => {
  const { engine } = await kit.start({ config: manual, onDisk: true });
  const { tickets } = await buy(engine, 'ann', 's2', [1, 2, 3]);
  const [a, b, c] = tickets;
  await engine.checkIn(claimsOf(a!));
  await engine.refundTicket(b!.id, { userId: 'ann' }, { idempotencyKey: 'r' });
  const given = await engine.transferTicket(c!.id, { userId: 'ann', toUserId: 'bob' });
  const again = await kit.restart();
  t.deepEqual(
    (await again.listTickets('ann')).map((ticket) => [ticket.seatNo, ticket.status]).sort(),
    [
      [1, 'checked_in'],
      [2, 'refunded'],
      [3, 'transferred'],
    ],
  );
  await rejects(t, again.checkIn(claimsOf(a!)), 'ALREADY_CHECKED_IN');
  t.true(isReplay(await again.refundTicket(b!.id, { userId: 'ann' }, { idempotencyKey: 'r' })));
  await rejects(t, again.checkIn(claimsOf(c!)), 'TICKET_VOID');
  const bob = await activeToken(again, 'bob');
  const seats = (await again.listSeats(bob, 's2')).seats.map((seat) => seat.seatNo);
  t.deepEqual(seats, [2, 4, 5]);
  // The refunded seat sells again, and that survives another restart.
  await buy(again, 'bob', 's2', [2]);
  const third = await kit.restart();
  t.is((await third.checkIn(claimsOf(given))).ticketId, given.id);
  assertInvariants(t, await kit.durable());
});
