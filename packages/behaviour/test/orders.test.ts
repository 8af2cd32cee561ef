// SPEC §10 on every engine that takes orders (see `supports` in helpers/engines.ts).
import { activeToken, manual, rejects, START } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';
import { assertInvariants } from './helpers/invariants.js';
import { orderCatalog as catalog } from './helpers/orderCatalog.js';

const seatNosOf = (reservation: { seats: readonly { seatNo: number }[] }) =>
  reservation.seats.map(({ seatNo }) => seatNo);

behaviour(
  'an order of several seats is one reservation: held together, paid with one payment of the sum, sold together',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual, catalog });
    const ann = await activeToken(engine, 'ann');
    t.deepEqual(
      (await engine.listSchedules(ann, 'c1')).map(({ id, seatsPerRow }) => [id, seatsPerRow]),
      [
        ['rows', 5],
        ['flat', undefined],
      ],
      'a date with rows says how long they are',
    );
    const hold = await engine.reserve(ann, { scheduleId: 'rows', seatNos: [7, 5, 6] });
    t.like(hold, { seatNo: 5, price: 5_000, amount: 11_000, status: 'held', extensions: 0 });
    t.deepEqual(hold.seats, [
      { seatNo: 5, price: 5_000, category: 'VIP' },
      { seatNo: 6, price: 3_000, category: 'R' },
      { seatNo: 7, price: 3_000, category: 'R' },
    ]);
    t.deepEqual(await engine.getReservation(ann, hold.id), hold);
    t.is((await engine.stats()).heldSeats, 3);
    const left = seatNosOf(await engine.listSeats(ann, 'rows'));
    t.false([5, 6, 7].some((seatNo) => left.includes(seatNo)));
    t.deepEqual((await engine.listSeats(ann, 'rows')).seats.slice(-2), [
      { seatNo: 19, price: 1_000, category: 'S' },
      { seatNo: 20, price: 500 },
    ]);
    await engine.charge(ann, { userId: 'ann', amount: 11_000 });
    const payment = await engine.pay(ann, { reservationId: hold.id });
    t.like(payment, { amount: 11_000, balance: 0 });
    const stats = await engine.stats();
    t.is(stats.heldSeats, 0);
    t.is(stats.paidSeats, 3);
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  'seatNos is all or none: a taken seat refuses the order, naming the taken ones, and holds nothing',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual, catalog });
    const ann = await activeToken(engine, 'ann');
    const bob = await activeToken(engine, 'bob');
    await engine.reserve(ann, { scheduleId: 'flat', seatNos: [3, 5] });
    const refused = await rejects(
      t,
      engine.reserve(bob, { scheduleId: 'flat', seatNos: [2, 3, 4, 5] }),
      'SEAT_UNAVAILABLE',
    );
    t.deepEqual(refused.details.seatNos, [3, 5]);
    await rejects(
      t,
      engine.reserve(bob, { scheduleId: 'flat', seatNos: [9, 11] }),
      'SEAT_NOT_FOUND',
    );
    for (const seatNos of [[], [1, 1], [1, 2, 3, 4, 5], [0], 'x'])
      await rejects(
        t,
        engine.reserve(bob, { scheduleId: 'flat', seatNos: seatNos as number[] }),
        'VALIDATION_FAILED',
      );
    const stats = await engine.stats();
    t.is(stats.heldSeats, 2);
    t.is(stats.reservations, 1);
    t.true(seatNosOf(await engine.listSeats(bob, 'flat')).includes(2), 'seat 2 was not held');
  },
);

behaviour(
  'best available: the lowest block of consecutive free seats in one row, of the category; apart when not together',
  async (t, kit) => {
    const { engine } = await kit.start({
      config: { ...manual, maxHoldsPerUser: 100, maxTicketsPerUser: 100 },
      catalog,
    });
    const ann = await activeToken(engine, 'ann');
    await engine.reserve(ann, { scheduleId: 'rows', seatNos: [2, 8] });
    const best = async (quantity: number, more: { category?: string; together?: boolean } = {}) =>
      seatNosOf(await engine.reserve(ann, { scheduleId: 'rows', quantity, ...more }));
    t.deepEqual(await best(3), [3, 4, 5], 'row 1 from 3: 1 is alone');
    t.deepEqual(
      await best(4),
      [11, 12, 13, 14],
      'row 2 has 9, 10 only; a block never crosses a row',
    );
    t.deepEqual(await best(2, { category: 'R' }), [6, 7]);
    t.deepEqual(await best(2, { category: 'R' }), [9, 10]);
    t.deepEqual(await best(2, { category: 'S' }), [16, 17]);
    // S has 18, 19 left (20 is another tier): a pair, but not three.
    await rejects(
      t,
      engine.reserve(ann, { scheduleId: 'rows', quantity: 3, category: 'S' }),
      'SEATS_UNAVAILABLE',
    );
    await rejects(
      t,
      engine.reserve(ann, { scheduleId: 'rows', quantity: 1, category: 'Balcony' }),
      'CATEGORY_NOT_FOUND',
    );
    t.deepEqual(await best(3), [18, 19, 20], 'without a category, tiers do not split a block');
    t.deepEqual(await best(2, { together: false }), [1, 15], 'the lowest free seats');
    await rejects(t, engine.reserve(ann, { scheduleId: 'rows', quantity: 1 }), 'SEATS_UNAVAILABLE');
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  'limits: MAX_HOLDS_PER_USER first, then MAX_TICKETS_PER_USER (held plus paid seats of one date)',
  async (t, kit) => {
    const { engine } = await kit.start({
      config: { ...manual, maxHoldsPerUser: 2, maxTicketsPerUser: 4, maxSeatsPerOrder: 3 },
      catalog,
    });
    const ann = await activeToken(engine, 'ann');
    await rejects(t, engine.reserve(ann, { scheduleId: 'flat', quantity: 4 }), 'VALIDATION_FAILED');
    const three = await engine.reserve(ann, { scheduleId: 'flat', quantity: 3 });
    await engine.charge(ann, { userId: 'ann', amount: 3_000 });
    await engine.pay(ann, { reservationId: three.id });
    const again = await activeToken(engine, 'ann');
    await rejects(
      t,
      engine.reserve(again, { scheduleId: 'flat', seatNos: [8, 9] }),
      'TICKET_LIMIT_REACHED',
    );
    await engine.reserve(again, { scheduleId: 'flat', seatNo: 8 });
    await engine.reserve(again, { scheduleId: 'rows', quantity: 3 });
    // Two holds and four tickets of "flat": both limits passed, the hold limit answers.
    await rejects(
      t,
      engine.reserve(again, { scheduleId: 'flat', seatNo: 9 }),
      'HOLD_LIMIT_REACHED',
    );
    assertInvariants(t, await kit.durable());
  },
);

behaviour('cancelling or expiry frees every seat of an order at once', async (t, kit) => {
  const { engine, clock } = await kit.start({
    config: { ...manual, tokenActiveTtlMs: 3_600_000 },
    catalog,
  });
  const ann = await activeToken(engine, 'ann');
  const cancelled = await engine.reserve(ann, { scheduleId: 'flat', quantity: 4 });
  t.is((await engine.cancelReservation(ann, cancelled.id)).status, 'cancelled');
  t.is((await engine.listSeats(ann, 'flat')).seats.length, 10);
  const expiring = await engine.reserve(ann, { scheduleId: 'flat', seatNos: [1, 5, 9] });
  t.is((await engine.listSeats(ann, 'flat')).seats.length, 7);
  clock.increment(300_000);
  t.is((await engine.getReservation(ann, expiring.id)).status, 'expired');
  t.is((await engine.listSeats(ann, 'flat')).seats.length, 10);
  t.is((await engine.stats()).heldSeats, 0);
  t.deepEqual(seatNosOf(await engine.reserve(ann, { scheduleId: 'flat', quantity: 3 })), [1, 2, 3]);
  assertInvariants(t, await kit.durable());
});

behaviour(
  'an extension moves the deadline once: the timer and the sweep honour it, then EXTENSION_LIMIT; an expired hold is HOLD_EXPIRED',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, tokenActiveTtlMs: 60_000 },
      catalog,
    });
    const ann = await activeToken(engine, 'ann');
    const hold = await engine.reserve(ann, { scheduleId: 'rows', quantity: 2 });
    const extended = await engine.extendReservation(ann, hold.id);
    t.like(extended, { extensions: 1, expiresAt: new Date(START + 420_000).toISOString() });
    t.deepEqual(await engine.getReservation(ann, hold.id), extended);
    await rejects(t, engine.extendReservation(ann, hold.id), 'EXTENSION_LIMIT');
    // Past the first deadline: the timer armed for it fires, and the sweep runs; both keep the hold.
    clock.increment(300_000);
    await engine.sweep();
    t.is((await engine.getReservation(ann, hold.id)).status, 'held', 'the token lasts as long too');
    clock.increment(119_999);
    t.is((await engine.getReservation(ann, hold.id)).status, 'held');
    clock.increment(1);
    // The token, extended with the hold, ends with it: a new turn sees the hold expired.
    const again = await activeToken(engine, 'ann');
    t.is((await engine.getReservation(again, hold.id)).status, 'expired');
    await rejects(t, engine.extendReservation(again, hold.id), 'HOLD_EXPIRED');
    t.is((await engine.stats()).heldSeats, 0);
  },
);

behaviour(
  'restart mid-order: a held order keeps its seats and its extended deadline, then expires whole; a paid one stays sold',
  async (t, kit) => {
    const { engine: first, clock } = await kit.start({
      config: { ...manual, tokenActiveTtlMs: 3_600_000, maxTicketsPerUser: 10 },
      catalog,
      onDisk: true,
    });
    const ann = await activeToken(first, 'ann');
    const held = await first.reserve(ann, { scheduleId: 'rows', quantity: 3, category: 'R' });
    await first.extendReservation(ann, held.id);
    const bob = await activeToken(first, 'bob');
    const paid = await first.reserve(bob, { scheduleId: 'flat', seatNos: [4, 5] });
    await first.charge(bob, { userId: 'bob', amount: 2_000 });
    await first.pay(bob, { reservationId: paid.id });
    clock.increment(300_000);
    const engine = await kit.restart();
    const held2 = await engine.getReservation(ann, held.id);
    t.like(held2, { status: 'held', extensions: 1, amount: 9_000 });
    t.deepEqual(seatNosOf(held2), [6, 7, 8]);
    await rejects(t, engine.extendReservation(ann, held.id), 'EXTENSION_LIMIT');
    const stats = await engine.stats();
    t.is(stats.heldSeats, 3);
    t.is(stats.paidSeats, 2);
    t.deepEqual(
      seatNosOf(await engine.reserve(ann, { scheduleId: 'rows', quantity: 2, category: 'R' })),
      [9, 10],
    );
    clock.increment(120_000);
    t.is((await engine.getReservation(ann, held.id)).status, 'expired');
    t.is((await engine.stats()).heldSeats, 2);
    const carol = await activeToken(engine, 'carol');
    t.deepEqual(
      seatNosOf(await engine.reserve(carol, { scheduleId: 'rows', quantity: 3, category: 'R' })),
      [6, 7, 8],
    );
    await rejects(
      t,
      engine.reserve(carol, { scheduleId: 'flat', seatNos: [5, 6] }),
      'SEAT_UNAVAILABLE',
    );
    assertInvariants(t, await kit.durable());
  },
);
