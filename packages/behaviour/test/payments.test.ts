import { behaviour } from './helpers/engines.js';
import { isReplay } from '@usher/engine';
import { activeToken, manual, rejects, START } from '@usher/testkit';
import { assertInvariants } from './helpers/invariants.js';

behaviour(
  'a payment debits the balance, sells the seat and records the payment, all at once',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = await activeToken(engine, 'ann');
    const hold = await engine.reserve(ann, { scheduleId: 's2', seatNo: 1 });
    t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 5_000 }), {
      userId: 'ann',
      balance: 5_000,
    });
    const payment = await engine.pay(ann, { reservationId: hold.id });
    t.like(payment, {
      reservationId: hold.id,
      userId: 'ann',
      amount: 3_000,
      balance: 2_000,
      createdAt: new Date(START).toISOString(),
    });
    const again = await activeToken(engine, 'ann');
    t.is((await engine.getReservation(again, hold.id)).status, 'paid');
    t.deepEqual(await engine.getBalance(again, 'ann'), { userId: 'ann', balance: 2_000 });
    t.false((await engine.listSeats(again, 's2')).seats.some((seat) => seat.seatNo === 1));
    const contents = await kit.durable();
    t.is(contents.payments.get(payment.id)?.amount, 3_000);
    assertInvariants(t, contents);
  },
);

behaviour('a payment the balance does not cover changes nothing', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's2', seatNo: 1 });
  await engine.charge(ann, { userId: 'ann', amount: 2_999 });
  const before = JSON.stringify([...(await kit.durable()).reservations]);
  const error = await rejects(
    t,
    engine.pay(ann, { reservationId: hold.id }),
    'INSUFFICIENT_BALANCE',
  );
  t.regex(error.message, /3000.*2999/);
  t.is(JSON.stringify([...(await kit.durable()).reservations]), before);
  t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 2_999 });
  t.is((await engine.getReservation(ann, hold.id)).status, 'held');
  t.is((await engine.stats()).payments, 0);
});

behaviour(
  'only the holder pays; paying twice is refused; an expired hold cannot be paid',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: { ...manual, maxHoldsPerUser: 4 } });
    const ann = await activeToken(engine, 'ann');
    const bob = await activeToken(engine, 'bob');
    const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    const other = await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
    await engine.charge(bob, { userId: 'bob', amount: 10_000 });
    await rejects(t, engine.pay(bob, { reservationId: hold.id }), 'RESERVATION_NOT_FOUND');
    await engine.charge(ann, { userId: 'ann', amount: 1_000 });
    await engine.pay(ann, { reservationId: hold.id });
    await rejects(t, engine.pay(ann, { reservationId: hold.id }), 'ALREADY_PAID');
    clock.increment(300_000);
    await rejects(t, engine.pay(ann, { reservationId: other.id }), 'HOLD_EXPIRED');
    await rejects(t, engine.pay(ann, { reservationId: 'missing' }), 'RESERVATION_NOT_FOUND');
    t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 0 });
  },
);

behaviour(
  'charges are checked: integer, 1..maxChargeAmount, balance at most maxBalance, own wallet only',
  async (t, kit) => {
    const { engine } = await kit.start({
      config: { ...manual, maxChargeAmount: 1_000, maxBalance: 2_500 },
    });
    const ann = await activeToken(engine, 'ann');
    for (const amount of [0, -5, 1.5, 1_001, Number.NaN, Infinity, 2 ** 53]) {
      await rejects(t, engine.charge(ann, { userId: 'ann', amount }), 'VALIDATION_FAILED');
    }
    await rejects(
      t,
      engine.charge(ann, { userId: 'ann', amount: '5' as unknown as number }),
      'VALIDATION_FAILED',
    );
    await engine.charge(ann, { userId: 'ann', amount: 1_000 });
    await engine.charge(ann, { userId: 'ann', amount: 1_000 });
    await rejects(t, engine.charge(ann, { userId: 'ann', amount: 501 }), 'BALANCE_LIMIT');
    t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 500 }), {
      userId: 'ann',
      balance: 2_500,
    });
    await rejects(t, engine.charge(ann, { userId: 'bob', amount: 1 }), 'FORBIDDEN');
    await rejects(t, engine.getBalance(ann, 'bob'), 'FORBIDDEN');
    t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 2_500 });
  },
);

behaviour('a new user has a zero balance and reading it writes nothing', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 0 });
  t.is((await kit.durable()).wallets.size, 0);
});

behaviour('an idempotent charge is applied once and its first answer replayed', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  const first = await engine.charge(
    ann,
    { userId: 'ann', amount: 700 },
    { idempotencyKey: 'charge-1' },
  );
  await engine.charge(ann, { userId: 'ann', amount: 50 });
  const retry = await engine.charge(
    ann,
    { userId: 'ann', amount: 700 },
    { idempotencyKey: 'charge-1' },
  );
  t.deepEqual(retry, first, 'the same status and body as the first time');
  t.false(isReplay(first));
  t.true(isReplay(retry), 'marked as a replay');
  t.false(
    isReplay(await engine.charge(ann, { userId: 'ann', amount: 1 })),
    'an answer without a key is never a replay',
  );
  t.deepEqual(await engine.getBalance(ann, 'ann'), { userId: 'ann', balance: 751 });
  await rejects(
    t,
    engine.charge(ann, { userId: 'ann', amount: 701 }, { idempotencyKey: 'charge-1' }),
    'IDEMPOTENCY_KEY_REUSED',
  );
  await rejects(
    t,
    engine.charge(ann, { userId: 'ann', amount: 1 }, { idempotencyKey: '' }),
    'VALIDATION_FAILED',
  );
  const bob = await activeToken(engine, 'bob');
  t.deepEqual(
    await engine.charge(bob, { userId: 'bob', amount: 5 }, { idempotencyKey: 'charge-1' }),
    { userId: 'bob', balance: 5 },
    'keys are per user',
  );
});

behaviour('an idempotent payment is replayed, even after it expired the token', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await engine.charge(ann, { userId: 'ann', amount: 1_000 });
  const payment = await engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-1' });
  await rejects(t, engine.listConcerts(ann), 'TOKEN_INVALID');
  t.false(isReplay(payment));
  const replay = await engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-1' });
  t.deepEqual(replay, payment);
  t.true(isReplay(replay), 'marked as a replay');
  t.is(JSON.stringify(replay), JSON.stringify(payment), 'the mark is not in its JSON');
  await rejects(
    t,
    engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'pay-2' }),
    'TOKEN_INVALID',
  );
  await rejects(
    t,
    engine.pay(ann, { reservationId: 'other' }, { idempotencyKey: 'pay-1' }),
    'IDEMPOTENCY_KEY_REUSED',
  );
  await rejects(
    t,
    engine.charge(ann, { userId: 'ann', amount: 1 }, { idempotencyKey: 'pay-1' }),
    'IDEMPOTENCY_KEY_REUSED',
  );
  const again = await activeToken(engine, 'ann');
  const later = await engine.pay(again, { reservationId: hold.id }, { idempotencyKey: 'pay-1' });
  t.deepEqual(later, payment, 'a new token of the same user replays too');
  t.true(isReplay(later));
  await rejects(t, engine.pay(again, { reservationId: hold.id }), 'ALREADY_PAID');
  t.is((await engine.stats()).payments, 1);
});

behaviour('a refused request does not use up its idempotency key', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  await rejects(
    t,
    engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'k' }),
    'INSUFFICIENT_BALANCE',
  );
  await engine.charge(ann, { userId: 'ann', amount: 1_000 });
  t.is((await engine.pay(ann, { reservationId: hold.id }, { idempotencyKey: 'k' })).balance, 0);
});

behaviour('idempotency keys are kept at least 24 hours, then forgotten', async (t, kit) => {
  const { engine, clock } = await kit.start({ config: { ...manual, tokenActiveTtlMs: 3_600_000 } });
  let ann = await activeToken(engine, 'ann');
  await engine.charge(ann, { userId: 'ann', amount: 10 }, { idempotencyKey: 'k' });
  for (let hour = 1; hour <= 23; hour++) {
    clock.increment(3_600_000);
    ann = await activeToken(engine, 'ann');
    await engine.sweep();
  }
  t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 10 }, { idempotencyKey: 'k' }), {
    userId: 'ann',
    balance: 10,
  });
  clock.increment(3_600_000);
  ann = await activeToken(engine, 'ann');
  await engine.sweep();
  t.is((await engine.stats()).idempotencyKeys, 0);
  t.deepEqual(await engine.charge(ann, { userId: 'ann', amount: 10 }, { idempotencyKey: 'k' }), {
    userId: 'ann',
    balance: 20,
  });
});
