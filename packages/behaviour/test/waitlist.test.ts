import type { Reservation, UsherEngine, WaitlistEntry } from '@usher/engine';
import { activeToken, manual, rejects, START } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';
import { assertInvariants } from './helpers/invariants.js';

/** SPEC §11 "Waitlist" (issue 23), on both engines. */

const HOLD_TTL = 300_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** `userId` holds `seatNos` of `scheduleId` with an active token of theirs. */
async function hold(engine: UsherEngine, userId: string, scheduleId: string, seatNos: number[]) {
  const token = await activeToken(engine, userId);
  return { token, hold: await engine.reserve(token, { scheduleId, seatNos }) };
}

/** `userId` buys `seatNos` of `scheduleId`; answers the token (kept now) and the tickets. */
async function buy(engine: UsherEngine, userId: string, scheduleId: string, seatNos: number[]) {
  const { token, hold: held } = await hold(engine, userId, scheduleId, seatNos);
  await engine.charge(token, { userId, amount: held.amount });
  await engine.pay(token, { reservationId: held.id });
  const tickets = (await engine.listTickets(userId)).filter((t) => t.reservationId === held.id);
  return { token, tickets };
}

/** `userId` joins the waitlist of `scheduleId` with an active token. */
async function join(engine: UsherEngine, userId: string, scheduleId: string, quantity?: number) {
  const token = await activeToken(engine, userId);
  const entry = await engine.joinWaitlist(
    token,
    scheduleId,
    quantity === undefined ? {} : { quantity },
  );
  return { token, entry };
}

/**
 * A token of the user: their live one, or a new one (a token that ran out is
 * forgotten: a user who waited long joins again to see their offers).
 */
async function tokenOf(engine: UsherEngine, userId: string): Promise<string> {
  return (await engine.issueToken(userId)).token.token;
}

/** The user's holds offered from a waitlist. */
async function offers(engine: UsherEngine, userId: string): Promise<Reservation[]> {
  return (await engine.listReservations(await tokenOf(engine, userId), { status: 'held' })).filter(
    (r) => r.origin === 'waitlist',
  );
}

const seatsOf = (r: Reservation) => r.seats.map((s) => s.seatNo);

behaviour(
  'joining: only when no seat is for sale, once, within the limit; places in order',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = await activeToken(engine, 'ann');
    await rejects(t, engine.joinWaitlist(ann, 's2', {}), 'SEATS_AVAILABLE');
    const bob = await hold(engine, 'bob', 's2', [1, 2, 3, 4]);
    await rejects(t, engine.joinWaitlist(ann, 's2', {}), 'SEATS_AVAILABLE');
    await hold(engine, 'carl', 's2', [5]);
    const first = await engine.joinWaitlist(ann, 's2', { quantity: 2 });
    t.deepEqual(first, {
      scheduleId: 's2',
      userId: 'ann',
      position: 1,
      quantity: 2,
      offered: 0,
      joinedAt: iso(START),
    });
    const dan = await join(engine, 'dan', 's2');
    t.like(dan.entry, { position: 2, quantity: 1, offered: 0 });
    const again = await rejects(t, engine.joinWaitlist(ann, 's2', {}), 'WAITLIST_JOINED');
    t.is(again.details.position, 1);
    const eve = await activeToken(engine, 'eve');
    for (const quantity of [0, 5, 1.5, '1', null])
      await rejects(t, engine.joinWaitlist(eve, 's2', { quantity }), 'VALIDATION_FAILED');
    await rejects(t, engine.joinWaitlist(eve, 'nope', {}), 'SCHEDULE_NOT_FOUND');
    await rejects(t, engine.joinWaitlist('no-such-token', 's2', {}), 'TOKEN_INVALID');
    // bob holds 4 seats of s2: one more is past maxTicketsPerUser (4).
    await rejects(t, engine.joinWaitlist(bob.token, 's2', {}), 'TICKET_LIMIT_REACHED');
    t.like(await engine.joinWaitlist(eve, 's2', { quantity: 4 }), { position: 3, quantity: 4 });
    t.like(await engine.getWaitlistEntry(ann, 's2'), { position: 1, quantity: 2 });
    t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's2'), { position: 2 });
    await rejects(
      t,
      engine.getWaitlistEntry(await tokenOf(engine, 'bob'), 's2'),
      'WAITLIST_NOT_FOUND',
    );
    t.like(await engine.leaveWaitlist(ann, 's2'), { userId: 'ann', position: 1, quantity: 2 });
    await rejects(t, engine.getWaitlistEntry(ann, 's2'), 'WAITLIST_NOT_FOUND');
    await rejects(t, engine.leaveWaitlist(ann, 's2'), 'WAITLIST_NOT_FOUND');
    t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's2'), { position: 1 });
    // After leaving, joining again goes last.
    t.like(await engine.joinWaitlist(ann, 's2', {}), { position: 3 });
    t.like(await engine.getWaitlistEntry(eve, 's2'), { position: 2 });
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  'a cancelled seat goes to the first waiting user as a hold listed by their reservations',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: manual });
    const bob = await hold(engine, 'bob', 's3', [1]);
    const ann = await join(engine, 'ann', 's3');
    const dan = await join(engine, 'dan', 's3');
    clock.increment(1_000);
    await engine.cancelReservation(bob.token, bob.hold.id);
    const [offer, ...more] = await offers(engine, 'ann');
    t.deepEqual(more, []);
    t.like(offer, {
      userId: 'ann',
      scheduleId: 's3',
      seatNo: 1,
      amount: 500,
      status: 'held',
      origin: 'waitlist',
      createdAt: iso(START + 1_000),
      expiresAt: iso(START + 1_000 + HOLD_TTL),
    });
    t.deepEqual(await offers(engine, 'dan'), []);
    // Fulfilled: ann's entry is gone; dan moves up; nothing is for sale.
    await rejects(
      t,
      engine.getWaitlistEntry(await tokenOf(engine, 'ann'), 's3'),
      'WAITLIST_NOT_FOUND',
    );
    t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's3'), {
      position: 1,
      offered: 0,
    });
    t.deepEqual((await engine.listSeats(bob.token, 's3')).seats, []);
    await rejects(
      t,
      engine.reserve(bob.token, { scheduleId: 's3', seatNo: 1 }),
      'SEAT_UNAVAILABLE',
    );
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  'an expired seat goes to the first waiting user; an offer that expires goes to the next; then on sale',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: manual });
    const bob = await hold(engine, 'bob', 's3', [1]);
    const ann = await join(engine, 'ann', 's3');
    const dan = await join(engine, 'dan', 's3');
    clock.increment(HOLD_TTL);
    await engine.sweep();
    t.deepEqual((await offers(engine, 'ann')).map(seatsOf), [[1]]);
    t.deepEqual(await offers(engine, 'dan'), []);
    clock.increment(HOLD_TTL);
    await engine.sweep();
    t.deepEqual(await offers(engine, 'ann'), []);
    t.deepEqual((await offers(engine, 'dan')).map(seatsOf), [[1]]);
    await rejects(
      t,
      engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's3'),
      'WAITLIST_NOT_FOUND',
    );
    clock.increment(HOLD_TTL);
    await engine.sweep();
    // Nobody waits any more: the seat is for sale again.
    const eve = await activeToken(engine, 'eve');
    t.deepEqual(
      (await engine.listSeats(eve, 's3')).seats.map((s) => s.seatNo),
      [1],
    );
    await rejects(t, engine.joinWaitlist(eve, 's3', {}), 'SEATS_AVAILABLE');
    t.truthy(bob);
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  'a refunded seat goes to the first waiting user, who pays with a kept token',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const bob = await buy(engine, 'bob', 's3', [1]);
    const annToken = await activeToken(engine, 'ann');
    await engine.joinWaitlist(annToken, 's3', {});
    // ann's turn ends with a payment of another date: her token is kept, not active.
    const other = await engine.reserve(annToken, { scheduleId: 's1', seatNo: 1 });
    await engine.charge(annToken, { userId: 'ann', amount: 10_000 });
    await engine.pay(annToken, { reservationId: other.id });
    t.is((await engine.getToken(annToken).catch(() => ({ status: 'expired' }))).status, 'expired');
    await engine.refundTicket(bob.tickets[0]!.id, { userId: 'bob' });
    const [offer] = await offers(engine, 'ann');
    t.like(offer, { seatNo: 1, amount: 500, origin: 'waitlist', status: 'held' });
    // Another user's token does not reach it; ann's kept token does.
    const carl = await activeToken(engine, 'carl');
    await rejects(t, engine.pay(carl, { reservationId: offer!.id }), 'RESERVATION_NOT_FOUND');
    t.like(await engine.getReservation(annToken, offer!.id), { status: 'held' });
    t.like(await engine.extendReservation(annToken, offer!.id), { extensions: 1 });
    const payment = await engine.pay(annToken, { reservationId: offer!.id });
    t.is(payment.amount, 500);
    const tickets = await engine.listTickets('ann');
    t.deepEqual(
      tickets.filter((x) => x.scheduleId === 's3').map((x) => [x.seatNo, x.status]),
      [[1, 'valid']],
    );
    // A plain hold still needs an active token (a kept one is not live).
    await rejects(t, engine.reserve(annToken, { scheduleId: 's1', seatNo: 2 }), 'TOKEN_INVALID');
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  "an order's freed seats go to the entries in order, one hold each of up to what they asked",
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const bob = await hold(engine, 'bob', 's2', [1, 2, 3, 4]);
    const carl = await hold(engine, 'carl', 's2', [5]);
    const ann = await join(engine, 'ann', 's2', 3);
    const dan = await join(engine, 'dan', 's2', 2);
    const eve = await join(engine, 'eve', 's2', 1);
    await engine.cancelReservation(bob.token, bob.hold.id);
    const annOffers = await offers(engine, 'ann');
    t.deepEqual(annOffers.map(seatsOf), [[1, 2, 3]]);
    t.is(annOffers[0]!.amount, 3_000 + 3_000 + 2_000);
    t.deepEqual((await offers(engine, 'dan')).map(seatsOf), [[4]]);
    t.deepEqual(await offers(engine, 'eve'), []);
    await rejects(
      t,
      engine.getWaitlistEntry(await tokenOf(engine, 'ann'), 's2'),
      'WAITLIST_NOT_FOUND',
    );
    t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's2'), {
      position: 1,
      quantity: 2,
      offered: 1,
    });
    t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'eve'), 's2'), {
      position: 2,
      offered: 0,
    });
    assertInvariants(t, await kit.durable());
    await engine.cancelReservation(carl.token, carl.hold.id);
    t.deepEqual((await offers(engine, 'dan')).map(seatsOf).sort(), [[4], [5]]);
    await rejects(
      t,
      engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's2'),
      'WAITLIST_NOT_FOUND',
    );
    t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'eve'), 's2'), {
      position: 1,
      offered: 0,
    });
    t.deepEqual((await engine.listSeats(eve.token, 's2')).seats, []);
    assertInvariants(t, await kit.durable());
  },
);

behaviour('only an empty waitlist puts freed seats back on sale', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const bob = await hold(engine, 'bob', 's2', [1, 2, 3, 4]);
  await hold(engine, 'carl', 's2', [5]);
  const ann = await join(engine, 'ann', 's2', 1);
  await engine.cancelReservation(bob.token, bob.hold.id);
  t.deepEqual((await offers(engine, 'ann')).map(seatsOf), [[1]]);
  t.deepEqual(
    (await engine.listSeats(ann.token, 's2')).seats.map((s) => s.seatNo),
    [2, 3, 4],
  );
  assertInvariants(t, await kit.durable());
});

behaviour('an offered hold cancelled by its owner goes to the next entry', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const bob = await hold(engine, 'bob', 's3', [1]);
  const ann = await join(engine, 'ann', 's3');
  const dan = await join(engine, 'dan', 's3');
  await engine.cancelReservation(bob.token, bob.hold.id);
  const [offer] = await offers(engine, 'ann');
  t.like(await engine.cancelReservation(ann.token, offer!.id), { status: 'cancelled' });
  t.deepEqual((await offers(engine, 'dan')).map(seatsOf), [[1]]);
  assertInvariants(t, await kit.durable());
});

behaviour('watching an entry pushes each offer, each change, and its end', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const bob = await hold(engine, 'bob', 's2', [1, 2, 3, 4]);
  const carl = await hold(engine, 'carl', 's2', [5]);
  const ann = await join(engine, 'ann', 's2', 1);
  const dan = await join(engine, 'dan', 's2', 2);
  const seen: Record<string, (number | undefined | string)[]> = { ann: [], dan: [] };
  const watcher = (who: string) => ({
    entry: (entry: WaitlistEntry | undefined) => seen[who]!.push(entry && entry.position),
    reservation: (r: Reservation) => seen[who]!.push(`hold ${seatsOf(r).join(',')}`),
  });
  await engine.watchWaitlist(ann.token, 's2', watcher('ann') as never);
  await engine.watchWaitlist(dan.token, 's2', watcher('dan') as never);
  await rejects(
    t,
    engine.watchWaitlist(bob.token, 's2', watcher('bob') as never),
    'WAITLIST_NOT_FOUND',
  );
  await engine.cancelReservation(carl.token, carl.hold.id);
  await waitFor(() => seen.dan!.length >= 2);
  t.deepEqual(seen.ann, [1, 'hold 5', undefined]);
  t.deepEqual(seen.dan, [2, 1]);
  await engine.cancelReservation(bob.token, bob.hold.id);
  await waitFor(() => seen.dan!.length >= 4);
  t.deepEqual(seen.dan, [2, 1, 'hold 1,2', undefined]);
});

behaviour('nothing is offered twice after a restart', async (t, kit) => {
  const { engine: first, clock } = await kit.start({ config: manual, onDisk: true });
  let engine = first;
  const bob = await hold(engine, 'bob', 's3', [1]);
  const ann = await join(engine, 'ann', 's3');
  const dan = await join(engine, 'dan', 's3');
  engine = await kit.restart();
  t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's3'), { position: 2 });
  // bob's hold expires while the engine is down: the restart hands it out, once.
  await engine.close();
  clock.increment(HOLD_TTL);
  engine = await kit.restart();
  await engine.sweep();
  engine = await kit.restart();
  await engine.sweep();
  t.deepEqual((await offers(engine, 'ann')).map(seatsOf), [[1]]);
  t.deepEqual(await offers(engine, 'dan'), []);
  t.like(await engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's3'), { position: 1 });
  // ann's offer expires while down: it goes to dan, once.
  await engine.close();
  clock.increment(HOLD_TTL);
  engine = await kit.restart();
  await engine.sweep();
  engine = await kit.restart();
  await engine.sweep();
  t.deepEqual(await offers(engine, 'ann'), []);
  t.deepEqual((await offers(engine, 'dan')).map(seatsOf), [[1]]);
  await rejects(
    t,
    engine.getWaitlistEntry(await tokenOf(engine, 'dan'), 's3'),
    'WAITLIST_NOT_FOUND',
  );
  const contents = await kit.durable();
  const offered = [...contents.reservations.values()].filter((r) => r.origin === 'waitlist');
  t.deepEqual(offered.map((r) => [r.userId, r.status]).sort(), [
    ['ann', 'expired'],
    ['dan', 'held'],
  ]);
  t.is(contents.waitlist.size, 0);
  t.truthy(bob);
  assertInvariants(t, contents);
});

async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

behaviour(
  "a hold's deadline alone hands its seats out: the watcher gets the offer",
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: { ...manual, holdSweepMs: 1_000 } });
    await hold(engine, 'bob', 's3', [1]);
    const ann = await join(engine, 'ann', 's3');
    const seen: string[] = [];
    await engine.watchWaitlist(ann.token, 's3', {
      entry: (entry) => seen.push(entry === undefined ? 'gone' : `place ${entry.position}`),
      reservation: (r) => seen.push(`hold ${seatsOf(r).join(',')} ${r.origin}`),
    });
    // No request: the engine's own timers (the hold's deadline, the sweep) expire the hold.
    clock.increment(HOLD_TTL + 1_000);
    await waitFor(() => seen.includes('gone'));
    t.deepEqual(seen, ['place 1', 'hold 1 waitlist', 'gone']);
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  "joining takes a token of the concert's room; an offer is paid with a token of any room",
  async (t, kit) => {
    const { engine } = await kit.start({
      config: manual,
      catalog: {
        concerts: [
          { id: 'own', title: 'With a room of its own', room: {} },
          { id: 'plain', title: 'In the default room' },
        ],
        schedules: [
          {
            id: 'own-1',
            concertId: 'own',
            startsAt: '2027-05-01T19:00:00Z',
            totalSeats: 1,
            price: 700,
          },
          {
            id: 'plain-1',
            concertId: 'plain',
            startsAt: '2027-05-01T19:00:00Z',
            totalSeats: 1,
            price: 500,
          },
        ],
      },
    });
    const inRoom = async (userId: string) => {
      const { token } = await engine.issueToken(userId, { concertId: 'own' });
      while ((await engine.getToken(token.token)).status === 'waiting') await engine.tick();
      return token.token;
    };
    const bob = await inRoom('bob');
    const held = await engine.reserve(bob, { scheduleId: 'own-1', seatNo: 1 });
    const annDefault = await activeToken(engine, 'ann');
    await rejects(t, engine.joinWaitlist(annDefault, 'own-1', {}), 'TOKEN_WRONG_ROOM');
    const annOwn = await inRoom('ann');
    t.like(await engine.joinWaitlist(annOwn, 'own-1', {}), { position: 1 });
    await engine.cancelReservation(bob, held.id);
    const [offer] = (await engine.listReservations(annDefault, { status: 'held' })).filter(
      (r) => r.origin === 'waitlist',
    );
    t.like(offer, { scheduleId: 'own-1', seatNo: 1 });
    await engine.charge(annDefault, { userId: 'ann', amount: 700 });
    t.like(await engine.pay(annDefault, { reservationId: offer!.id }), { amount: 700 });
    assertInvariants(t, await kit.durable());
  },
);
