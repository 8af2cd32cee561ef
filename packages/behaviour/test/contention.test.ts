import { isEngineError, isReplay, type Payment, type UsherEngine } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { activeToken, rejects } from '@usher/testkit';
import { assertInvariants } from './helpers/invariants.js';

const USERS = 1_000;
const config = {
  queueMaxActive: USERS,
  queueTickMs: 3_600_000,
  holdSweepMs: 3_600_000,
  maxChargeAmount: 5_000,
};

function settle<T>(promise: Promise<T>) {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => {
      if (!isEngineError(error)) throw error;
      return { ok: false as const, code: error.code };
    },
  );
}

async function tokensFor(engine: UsherEngine, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(await activeToken(engine, `u${i}`));
  return tokens;
}

behaviour(
  'thousands of interleaved reserve, pay and charge commands on 16 seats sell each seat exactly once, with exact money',
  async (t, kit) => {
    const { engine } = await kit.start({ config });
    const tokens = await tokensFor(engine, USERS);
    const seats = [
      ...Array.from({ length: 10 }, (_, i) => ({ scheduleId: 's1', seatNo: i + 1 })),
      ...Array.from({ length: 5 }, (_, i) => ({ scheduleId: 's2', seatNo: i + 1 })),
      { scheduleId: 's3', seatNo: 1 },
    ];
    /** What the answers said each user was charged and paid: the store must agree exactly. */
    const charged = new Map<string, number>();
    const paid = new Map<string, number>();
    const add = (map: Map<string, number>, userId: string, amount: number) =>
      map.set(userId, (map.get(userId) ?? 0) + amount);

    // Round 1, all at once: every user charges a random amount and grabs a random seat.
    const round1 = tokens.map((token, i) => {
      const userId = `u${i}`;
      const amount = 1 + ((i * 7919) % 4_000);
      const seat = seats[(i * 31) % seats.length]!;
      return Promise.all([
        settle(engine.charge(token, { userId, amount })),
        settle(engine.reserve(token, seat)),
      ]).then(([charge, hold]) => ({ userId, token, amount, charge, hold }));
    });
    const results = await Promise.all(round1);
    for (const { userId, amount, charge } of results) if (charge.ok) add(charged, userId, amount);
    const holders = results.filter((result) => result.hold.ok);
    t.is(holders.length, seats.length, 'every seat was held exactly once');
    t.true(results.every((result) => result.hold.ok || result.hold.code === 'SEAT_UNAVAILABLE'));

    // Round 2, all at once: holders pay twice with one key and once without; losers charge again and retry seats.
    const round2 = results.flatMap(({ userId, token, hold }) => {
      if (hold.ok) {
        const reservationId = hold.value.id;
        return [
          settle(engine.pay(token, { reservationId }, { idempotencyKey: `pay-${userId}` })).then(
            (r) => ({ userId, kind: 'pay', r }),
          ),
          settle(engine.pay(token, { reservationId }, { idempotencyKey: `pay-${userId}` })).then(
            (r) => ({ userId, kind: 'pay', r }),
          ),
          settle(engine.pay(token, { reservationId })).then((r) => ({ userId, kind: 'pay', r })),
        ];
      }
      return [
        settle(
          engine.charge(token, { userId, amount: 1_000 }, { idempotencyKey: `top-${userId}` }),
        ).then((r) => ({ userId, kind: 'charge', r })),
        settle(
          engine.charge(token, { userId, amount: 1_000 }, { idempotencyKey: `top-${userId}` }),
        ).then((r) => ({ userId, kind: 'charge', r })),
        settle(engine.reserve(token, seats[userId.length % seats.length]!)).then((r) => ({
          userId,
          kind: 'reserve',
          r,
        })),
      ];
    });
    const outcomes = await Promise.all(round2);
    // Answers that share an id or an idempotency key are one effect, answered more than once.
    const paymentIds = new Set<string>();
    const toppedUp = new Set<string>();
    for (const { userId, kind, r } of outcomes) {
      if (kind === 'reserve') t.false(r.ok, 'no seat is free in round 2');
      if (!r.ok) continue;
      if (kind === 'charge' && !toppedUp.has(userId)) {
        toppedUp.add(userId);
        add(charged, userId, 1_000);
      }
      const payment = r.value as unknown as Payment;
      if (kind === 'pay' && !paymentIds.has(payment.id)) {
        paymentIds.add(payment.id);
        add(paid, userId, payment.amount);
      }
    }

    // Every holder's three attempts produced at most one payment: one applied, one replayed, one refused.
    const contents = await kit.durable();
    assertInvariants(t, contents);
    t.is(contents.payments.size, paymentIds.size);
    for (const holder of holders) {
      const attempts = outcomes.filter((o) => o.userId === holder.userId);
      const payments = new Set(
        attempts.filter((o) => o.r.ok).map((o) => (o.r as { value: { id: string } }).value.id),
      );
      t.true(payments.size <= 1);
      if (payments.size === 1)
        t.true(
          attempts.some(
            (o) => !o.r.ok && (o.r.code === 'ALREADY_PAID' || o.r.code === 'TOKEN_INVALID'),
          ),
        );
      else t.true(attempts.every((o) => !o.r.ok && o.r.code === 'INSUFFICIENT_BALANCE'));
    }
    // Of two answers to one key, the one that did it is not marked a replay, the other is.
    for (const userId of new Set(outcomes.map((o) => o.userId))) {
      const keyed = outcomes.filter((o) => o.userId === userId && o.kind !== 'reserve').slice(0, 2);
      const answered = keyed.filter((o) => o.r.ok).map((o) => (o.r as { value: unknown }).value);
      if (answered.length === 2)
        t.deepEqual(
          answered.map(isReplay).sort(),
          [false, true],
          `${userId}: one done, one replayed`,
        );
    }
    // Money is exact: per user, what the answers said was charged and paid is what the store holds.
    for (const [userId, wallet] of contents.wallets) {
      t.is(wallet.charged, charged.get(userId) ?? 0, `charges of ${userId}`);
      t.is(wallet.paid, paid.get(userId) ?? 0, `payments of ${userId}`);
    }
    t.is(contents.wallets.size, USERS);
  },
);

behaviour(
  'many users racing for one seat: one hold, everyone else SEAT_UNAVAILABLE',
  async (t, kit) => {
    const { engine } = await kit.start({ config });
    const tokens = await tokensFor(engine, 500);
    const results = await Promise.all(
      tokens.map((token) => settle(engine.reserve(token, { scheduleId: 's3', seatNo: 1 }))),
    );
    t.is(results.filter((result) => result.ok).length, 1);
    t.is(results.filter((result) => !result.ok && result.code === 'SEAT_UNAVAILABLE').length, 499);
    await rejects(
      t,
      engine.reserve(tokens[0]!, { scheduleId: 's3', seatNo: 1 }),
      'SEAT_UNAVAILABLE',
    );
  },
);
