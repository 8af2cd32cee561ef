import test from 'ava';
import { activeToken, rejects, simulatedClock, START, startEngine } from './helpers/fixture.js';
import { assertInvariants } from './helpers/invariants.js';
import { places } from './helpers/places.js';

const config = { queueMaxActive: 3, queueTickMs: 3_600_000, holdSweepMs: 3_600_000 };

for (const [name, at] of Object.entries(places)) {
  test(`${name}: a restart keeps catalog, tokens and their order, holds, payments, wallets and idempotency keys`, async (t) => {
    const place = await at(t);
    const first = await startEngine({ store: place.open(), config });
    const { engine } = first;
    const ann = await activeToken(engine, 'ann');
    const bob = await activeToken(engine, 'bob');
    const cat = await activeToken(engine, 'cat');
    const waiting = [];
    for (const user of ['w1', 'w2', 'w3'])
      waiting.push((await engine.issueToken(user)).token.token);
    const held = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    const sold = await engine.reserve(bob, { scheduleId: 's1', seatNo: 2 });
    const cancelled = await engine.reserve(cat, { scheduleId: 's1', seatNo: 3 });
    await engine.cancelReservation(cat, cancelled.id);
    await engine.charge(bob, { userId: 'bob', amount: 5_000 }, { idempotencyKey: 'top-up' });
    const payment = await engine.pay(bob, { reservationId: sold.id }, { idempotencyKey: 'pay' });
    first.clock.increment(1_000);
    await engine.close();
    await rejects(t, engine.listConcerts(ann), 'SHUTTING_DOWN');

    const { engine: restarted } = await startEngine({
      store: place.open(),
      config,
      clock: simulatedClock(START + 1_000),
      catalog: null,
    });
    t.is((await restarted.listConcerts(ann)).length, 2, 'catalog and active token survive');
    t.deepEqual(await restarted.getReservation(ann, held.id), held);
    t.is((await restarted.getReservation(cat, cancelled.id)).status, 'cancelled');
    t.deepEqual(
      (await Promise.all(waiting.map((token) => restarted.getToken(token)))).map((token) => [
        token.status,
        token.position,
      ]),
      [
        ['waiting', 1],
        ['waiting', 2],
        ['waiting', 3],
      ],
    );
    t.deepEqual(
      (await restarted.listSeats(ann, 's1')).seats.map((seat) => seat.seatNo),
      [3, 4, 5, 6, 7, 8, 9, 10],
    );
    t.deepEqual(
      await restarted.pay(bob, { reservationId: sold.id }, { idempotencyKey: 'pay' }),
      payment,
      'replay after restart',
    );
    t.is(
      (await restarted.tick()).admitted,
      1,
      "bob's slot (freed by his payment) goes to the next in line",
    );
    t.deepEqual(
      await restarted.charge(bob, { userId: 'bob', amount: 5_000 }, { idempotencyKey: 'top-up' }),
      { userId: 'bob', balance: 5_000 },
      'the first answer, replayed',
    );
    const stats = await restarted.stats();
    t.like(stats, {
      concerts: 2,
      schedules: 3,
      heldSeats: 1,
      paidSeats: 1,
      payments: 1,
      wallets: 1,
      idempotencyKeys: 2,
    });
    await restarted.close();
    const durable = await place.durable();
    t.is(durable.wallets.get('bob')?.balance, 4_000);
    assertInvariants(t, durable);
  });

  test(`${name}: invariant 4 across a restart: a hold keeps its remaining time`, async (t) => {
    const place = await at(t);
    const { engine } = await startEngine({
      store: place.open(),
      config: { ...config, tokenActiveTtlMs: 3_600_000 },
    });
    const ann = await activeToken(engine, 'ann');
    const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    await engine.close();

    const clock = simulatedClock(START + 100_000);
    const { engine: restarted } = await startEngine({
      store: place.open(),
      clock,
      config: { ...config, tokenActiveTtlMs: 3_600_000 },
      catalog: null,
    });
    clock.increment(199_999);
    t.is((await restarted.getReservation(ann, hold.id)).status, 'held');
    clock.increment(1);
    t.is(
      (await restarted.getReservation(ann, hold.id)).status,
      'expired',
      'exactly at the original deadline',
    );
    t.is((await restarted.stats()).heldSeats, 0);
    await restarted.close();
  });

  test(`${name}: what ended while the process was down ends at start: holds, active tokens`, async (t) => {
    const place = await at(t);
    const { engine } = await startEngine({
      store: place.open(),
      config: { ...config, queueMaxActive: 1, tokenActiveTtlMs: 600_000 },
    });
    const ann = await activeToken(engine, 'ann');
    const hold = await engine.reserve(ann, { scheduleId: 's3', seatNo: 1 });
    const waiting = [];
    for (const user of ['b', 'c', 'd']) waiting.push((await engine.issueToken(user)).token.token);
    await engine.close();

    const { engine: restarted } = await startEngine({
      store: place.open(),
      clock: simulatedClock(START + 3_600_000),
      config,
      catalog: null,
    });
    await rejects(t, restarted.listConcerts(ann), 'TOKEN_INVALID');
    const position = await restarted.getToken(waiting[2]!);
    t.is(position.position, 3, 'waiting tokens get a full waiting time from the restart');
    const d = await activeToken(restarted, 'd');
    t.deepEqual((await restarted.listSeats(d, 's3')).seats, [{ seatNo: 1, price: 500 }]);
    await restarted.close();
    const stored = await place.durable();
    t.is(
      stored.reservations.get(hold.id)?.status,
      'expired',
      'the expiry at start was made durable',
    );
    t.is(stored.reservations.get(hold.id)?.endedAt, START + 300_000, 'at its own deadline');
    t.false(stored.tokens.has(ann), 'the expired active token is gone');
  });

  test(`${name}: restoring the same store twice gives the same answers (snapshots round-trip through JSON)`, async (t) => {
    const place = await at(t);
    const { engine } = await startEngine({ store: place.open(), config });
    const ann = await activeToken(engine, 'ann');
    await engine.reserve(ann, { scheduleId: 's2', seatNo: 4 });
    await engine.close();
    const views = [];
    for (let i = 0; i < 2; i++) {
      const { engine: again } = await startEngine({
        store: place.open(),
        config,
        clock: simulatedClock(START + 5),
        catalog: null,
      });
      views.push({
        seats: await again.listSeats(ann, 's2'),
        token: await again.getToken(ann),
        stats: await again.stats(),
      });
      await again.close();
    }
    t.deepEqual(views[0], views[1]);
  });
}
