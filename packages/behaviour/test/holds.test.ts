import type { Clock } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { activeToken, manual, rejects, START } from '@usher/testkit';

behaviour('a hold takes the seat off the list and lasts holdTtl', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's2', seatNo: 1 });
  t.like(hold, { userId: 'ann', scheduleId: 's2', seatNo: 1, price: 3_000, status: 'held' });
  t.is(hold.createdAt, new Date(START).toISOString());
  t.is(hold.expiresAt, new Date(START + 300_000).toISOString());
  t.true(hold.id.length >= 21);
  t.deepEqual((await engine.listSeats(ann, 's2')).seats, [
    { seatNo: 2, price: 3_000 },
    { seatNo: 3, price: 2_000 },
    { seatNo: 4, price: 2_000 },
    { seatNo: 5, price: 2_000 },
  ]);
  t.deepEqual(await engine.getReservation(ann, hold.id), hold);
});

behaviour('invariant 1: a held seat cannot be held again, by anyone', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  const bob = await activeToken(engine, 'bob');
  await engine.reserve(ann, { scheduleId: 's1', seatNo: 3 });
  await rejects(t, engine.reserve(bob, { scheduleId: 's1', seatNo: 3 }), 'SEAT_UNAVAILABLE');
  const own = await rejects(
    t,
    engine.reserve(ann, { scheduleId: 's1', seatNo: 3 }),
    'SEAT_UNAVAILABLE',
  );
  t.regex(own.message, /you hold it/);
  t.is((await engine.stats()).heldSeats, 1);
});

behaviour(
  'unknown schedules and seats are refused; malformed input is a validation error',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = await activeToken(engine, 'ann');
    await rejects(t, engine.reserve(ann, { scheduleId: 'nope', seatNo: 1 }), 'SCHEDULE_NOT_FOUND');
    await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 11 }), 'SEAT_NOT_FOUND');
    for (const seatNo of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo }), 'VALIDATION_FAILED');
    }
    await rejects(
      t,
      engine.reserve(ann, { scheduleId: 's1', seatNo: '1' as unknown as number }),
      'VALIDATION_FAILED',
    );
    await rejects(t, engine.reserve(ann, { scheduleId: '', seatNo: 1 }), 'VALIDATION_FAILED');
    await rejects(t, engine.listSeats(ann, 'nope'), 'SCHEDULE_NOT_FOUND');
    await rejects(t, engine.listSchedules(ann, 'nope'), 'CONCERT_NOT_FOUND');
    await rejects(t, engine.getReservation(ann, 'nope'), 'RESERVATION_NOT_FOUND');
    t.is((await engine.stats()).reservations, 0, 'nothing was held');
  },
);

behaviour('a user holds at most maxHoldsPerUser seats at once', async (t, kit) => {
  const { engine } = await kit.start({ config: { ...manual, maxHoldsPerUser: 2 } });
  const ann = await activeToken(engine, 'ann');
  const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
  await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 3 }), 'HOLD_LIMIT_REACHED');
  await engine.cancelReservation(ann, first.id);
  t.is(
    (await engine.reserve(ann, { scheduleId: 's1', seatNo: 3 })).status,
    'held',
    'a cancelled hold frees a place',
  );
});

behaviour(
  'invariant 4: a hold expires exactly at its deadline and the seat is available again',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, tokenActiveTtlMs: 3_600_000 },
    });
    const ann = await activeToken(engine, 'ann');
    const bob = await activeToken(engine, 'bob');
    const hold = await engine.reserve(ann, { scheduleId: 's3', seatNo: 1 });
    clock.increment(299_999);
    t.is((await engine.getReservation(ann, hold.id)).status, 'held');
    await rejects(t, engine.reserve(bob, { scheduleId: 's3', seatNo: 1 }), 'SEAT_UNAVAILABLE');
    clock.increment(1);
    t.is((await engine.getReservation(ann, hold.id)).status, 'expired');
    t.is((await engine.reserve(bob, { scheduleId: 's3', seatNo: 1 })).status, 'held');
    await rejects(t, engine.cancelReservation(ann, hold.id), 'HOLD_EXPIRED');
    await rejects(t, engine.pay(ann, { reservationId: hold.id }), 'HOLD_EXPIRED');
  },
);

behaviour(
  'an expired hold is expired even if no timer fired and no command came in',
  async (t, kit) => {
    // A clock whose timers never fire: only the check before each command can expire the hold.
    let now = START;
    const clock: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined };
    const { engine } = await kit.start({
      clock,
      config: { ...manual, tokenActiveTtlMs: 3_600_000 },
    });
    const ann = await activeToken(engine, 'ann');
    const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    now += 300_000;
    t.is((await engine.stats()).heldSeats, 0);
    t.is((await engine.getReservation(ann, hold.id)).status, 'expired');
  },
);

behaviour(
  'a user cancels their own hold; cancelling twice answers the same; a paid one cannot be cancelled',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = await activeToken(engine, 'ann');
    const bob = await activeToken(engine, 'bob');
    const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 5 });
    await rejects(t, engine.cancelReservation(bob, hold.id), 'RESERVATION_NOT_FOUND');
    await rejects(t, engine.getReservation(bob, hold.id), 'RESERVATION_NOT_FOUND');
    const cancelled = await engine.cancelReservation(ann, hold.id);
    t.is(cancelled.status, 'cancelled');
    t.deepEqual(await engine.cancelReservation(ann, hold.id), cancelled);
    t.true((await engine.listSeats(ann, 's1')).seats.some((seat) => seat.seatNo === 5));
    await rejects(t, engine.pay(ann, { reservationId: hold.id }), 'HOLD_EXPIRED');

    const kept = await engine.reserve(ann, { scheduleId: 's1', seatNo: 6 });
    await engine.charge(ann, { userId: 'ann', amount: 5_000 });
    await engine.pay(ann, { reservationId: kept.id });
    const annAgain = await activeToken(engine, 'ann');
    await rejects(t, engine.cancelReservation(annAgain, kept.id), 'ALREADY_PAID');
  },
);

behaviour(
  'listings: concerts by id, schedules by start with available seats only, seats ascending',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = await activeToken(engine, 'ann');
    t.deepEqual(
      (await engine.listConcerts(ann)).map((concert) => concert.id),
      ['c1', 'c2'],
    );
    t.deepEqual(await engine.listSchedules(ann, 'c1'), [
      {
        id: 's2',
        concertId: 'c1',
        startsAt: '2027-04-30T19:00:00+09:00',
        totalSeats: 5,
        availableSeats: 5,
      },
      {
        id: 's1',
        concertId: 'c1',
        startsAt: '2027-05-01T19:00:00+09:00',
        totalSeats: 10,
        availableSeats: 10,
      },
    ]);
    await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    t.is(
      (await engine.listSchedules(ann, 'c1'))[1]!.availableSeats,
      9,
      'a hold shows at once in the listing',
    );
    await engine.reserve(ann, { scheduleId: 's3', seatNo: 1 });
    t.deepEqual(await engine.listSchedules(ann, 'c2'), [], 'a sold-out date is not listed');
    t.deepEqual((await engine.listSeats(ann, 's3')).seats, []);
    const seats = (await engine.listSeats(ann, 's1')).seats.map((seat) => seat.seatNo);
    t.deepEqual(
      seats,
      [...seats].sort((a, b) => a - b),
    );
  },
);
