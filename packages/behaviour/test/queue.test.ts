import { behaviour } from './helpers/engines.js';
import { activeToken, manual, rejects, START } from '@usher/testkit';

behaviour(
  'issuing twice returns the same token, the second time with created false',
  async (t, kit) => {
    const { engine } = await kit.start();
    const first = await engine.issueToken('ann');
    const second = await engine.issueToken('ann');
    t.true(first.created);
    t.false(second.created);
    t.is(second.token.token, first.token.token);
    t.true(first.token.token.length >= 21);
    t.is(first.token.issuedAt, new Date(START).toISOString());
  },
);

behaviour(
  'a new token is active at once while nobody waits and there is room, then it waits',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 2 } });
    const ann = await engine.issueToken('ann');
    const bob = await engine.issueToken('bob');
    const cat = await engine.issueToken('cat');
    t.deepEqual(
      [ann.token.status, bob.token.status, cat.token.status],
      ['active', 'active', 'waiting'],
    );
    t.is(ann.token.position, 0);
    t.is(cat.token.position, 1);
  },
);

behaviour(
  'each tick admits min(admitPerTick, maxActive - active) in FIFO order',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: {
        ...manual,
        queueMaxActive: 4,
        queueAdmitPerTick: 2,
        tokenActiveTtlMs: 60_000,
        queueWaitingTtlMs: 7_200_000,
      },
    });
    const users = Array.from({ length: 10 }, (_, i) => `u${i}`);
    const tokens: string[] = [];
    for (const user of users) tokens.push((await engine.issueToken(user)).token.token);
    const statusOf = async () =>
      Promise.all(
        tokens.map(
          async (token) => (await engine.getToken(token).catch(() => null))?.status ?? 'gone',
        ),
      );
    t.deepEqual(await statusOf(), [
      'active',
      'active',
      'active',
      'active',
      ...Array(6).fill('waiting'),
    ]);

    clock.increment(60_000); // the first four expire
    t.deepEqual(await engine.tick(), { admitted: 2, waiting: 4, active: 2 });
    t.deepEqual(await engine.tick(), { admitted: 2, waiting: 2, active: 4 });
    t.deepEqual(
      await engine.tick(),
      { admitted: 0, waiting: 2, active: 4 },
      'never above maxActive',
    );
    t.deepEqual(await statusOf(), [
      ...Array(4).fill('gone'),
      ...Array(4).fill('active'),
      'waiting',
      'waiting',
    ]);
    t.deepEqual(
      (await Promise.all(tokens.slice(8).map((token) => engine.getToken(token)))).map(
        (token) => token.position,
      ),
      [1, 2],
    );
  },
);

behaviour(
  'positions are 1-based ranks among waiting tokens and never go up for someone who stays',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 1, queueWaitingTtlMs: 60_000 },
    });
    await engine.issueToken('first');
    const tokens: string[] = [];
    for (let i = 0; i < 50; i++) tokens.push((await engine.issueToken(`u${i}`)).token.token);
    const positionsOf = async (list: string[]) =>
      (await Promise.all(list.map((token) => engine.getToken(token)))).map(
        (token) => token.position,
      );
    t.deepEqual(
      await positionsOf(tokens),
      tokens.map((_, i) => i + 1),
    );

    // Five people stop polling and are abandoned; everyone else keeps polling.
    const leaving = new Set([0, 3, 7, 21, 49]);
    const staying = tokens.filter((_, i) => !leaving.has(i));
    const before = await positionsOf(staying);
    clock.increment(40_000);
    await positionsOf(staying);
    clock.increment(20_000);
    const after = await positionsOf(staying);
    t.deepEqual(
      after,
      staying.map((_, i) => i + 1),
      'ranks close up over those who left',
    );
    for (const [i, position] of after.entries())
      t.true(position! <= before[i]!, 'a position never goes up');
    t.is((await engine.stats()).waitingTokens, staying.length);
  },
);

behaviour(
  'a waiting token not polled for waitingTtl is abandoned; one that polls stays in line',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 1, queueWaitingTtlMs: 60_000 },
    });
    await engine.issueToken('active-user');
    const quiet = (await engine.issueToken('quiet')).token.token;
    const polite = (await engine.issueToken('polite')).token.token;
    t.is((await engine.getToken(polite)).position, 2);
    clock.increment(40_000);
    await engine.getToken(polite);
    clock.increment(20_000);
    await rejects(t, engine.getToken(quiet), 'TOKEN_INVALID');
    const stayed = await engine.getToken(polite);
    t.is(stayed.position, 1, 'the abandoned token no longer counts');
    t.is(
      stayed.expiresAt,
      new Date(START + 120_000).toISOString(),
      'a waiting token expires waitingTtl after its last poll',
    );
    const again = await engine.issueToken('quiet');
    t.true(again.created, 'an abandoned user can join again, at the back');
    t.is(again.token.position, 2);
  },
);

behaviour('the wait estimate follows how fast places free up', async (t, kit) => {
  const { engine } = await kit.start({
    config: {
      queueMaxActive: 1,
      queueAdmitPerTick: 10,
      queueTickMs: 1_000,
      tokenActiveTtlMs: 600_000,
      holdSweepMs: 3_600_000,
    },
  });
  let active = (await engine.issueToken('u0')).token.token;
  const tokens = [];
  for (let i = 1; i <= 25; i++) tokens.push((await engine.issueToken(`u${i}`)).token);
  t.is(
    tokens[0]!.estimatedWaitSeconds,
    600,
    'one place of a 10-minute window: about 10 minutes, not a second',
  );
  t.is(tokens[24]!.estimatedWaitSeconds, 25 * 600);
  // Nobody leaves the active set, so ticks admit nothing: the estimate stays at the worst case.
  for (let i = 0; i < 50; i++) await engine.tick();
  t.is((await engine.getToken(tokens[24]!.token)).estimatedWaitSeconds, 25 * 600);
  t.is((await engine.stats()).admissionRatePerSecond, 1 / 600);
  // Now each one pays within 10 ticks of being admitted: places free faster, and the estimate follows.
  for (let user = 0; user < 8; user++) {
    const hold = await engine.reserve(active, { scheduleId: 's1', seatNo: user + 1 });
    await engine.charge(active, { userId: `u${user}`, amount: 1_000 });
    await engine.pay(active, { reservationId: hold.id });
    for (let i = 0; i < 10; i++) await engine.tick();
    active = tokens[user]!.token;
    t.is((await engine.getToken(active)).status, 'active');
  }
  const next = await engine.getToken(tokens[8]!.token);
  t.is(next.position, 1);
  t.true(
    next.estimatedWaitSeconds >= 10 && next.estimatedWaitSeconds <= 60,
    `${next.estimatedWaitSeconds} s`,
  );
});

behaviour('every command but issuing and reading a token needs an active token', async (t, kit) => {
  const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 1 } });
  await engine.issueToken('ann');
  const waiting = (await engine.issueToken('bob')).token.token;
  const error = await rejects(t, engine.listConcerts(waiting), 'TOKEN_NOT_ACTIVE');
  t.is(error.details.position, 1);
  t.is(typeof error.details.estimatedWaitSeconds, 'number');
  await rejects(t, engine.reserve(waiting, { scheduleId: 's1', seatNo: 1 }), 'TOKEN_NOT_ACTIVE');
  await rejects(t, engine.getBalance(waiting, 'bob'), 'TOKEN_NOT_ACTIVE');
  await rejects(t, engine.listConcerts(''), 'TOKEN_MISSING');
  await rejects(t, engine.getToken(''), 'TOKEN_MISSING');
  await rejects(t, engine.listConcerts('no-such-token-000000000'), 'TOKEN_INVALID');
  await rejects(t, engine.getToken('x'.repeat(10_000)), 'TOKEN_INVALID');
  await rejects(t, engine.issueToken(''), 'VALIDATION_FAILED');
  await rejects(t, engine.issueToken('u'.repeat(129)), 'VALIDATION_FAILED');
});

behaviour('an active token expires activeTtl after admission', async (t, kit) => {
  const { engine, clock } = await kit.start({ config: { ...manual, tokenActiveTtlMs: 60_000 } });
  const token = await activeToken(engine, 'ann');
  t.is((await engine.getToken(token)).expiresAt, new Date(START + 60_000).toISOString());
  clock.increment(59_999);
  t.is((await engine.listConcerts(token)).length, 2);
  clock.increment(1);
  await rejects(t, engine.listConcerts(token), 'TOKEN_INVALID');
  await rejects(t, engine.getToken(token), 'TOKEN_INVALID');
  t.is((await engine.stats()).activeTokens, 0);
});

behaviour('a token never expires before the end of a hold its user still has', async (t, kit) => {
  const { engine, clock } = await kit.start({
    config: { ...manual, tokenActiveTtlMs: 60_000, holdTtlMs: 300_000 },
  });
  const token = await activeToken(engine, 'ann');
  clock.increment(50_000);
  const hold = await engine.reserve(token, { scheduleId: 's1', seatNo: 1 });
  t.is((await engine.getToken(token)).expiresAt, hold.expiresAt);
  clock.increment(200_000); // far past the token's own 60 s
  await engine.charge(token, { userId: 'ann', amount: 1_000 });
  const payment = await engine.pay(token, { reservationId: hold.id });
  t.is(payment.amount, 1_000);
});

behaviour(
  'a payment expires the token, and its slot goes to the next user at the next tick',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 1 } });
    const ann = await activeToken(engine, 'ann');
    const bob = (await engine.issueToken('bob')).token.token;
    const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    await engine.charge(ann, { userId: 'ann', amount: 1_000 });
    await engine.pay(ann, { reservationId: hold.id });
    await rejects(t, engine.getToken(ann), 'TOKEN_INVALID');
    t.is((await engine.getToken(bob)).status, 'waiting');
    t.is((await engine.tick()).admitted, 1);
    t.is((await engine.getToken(bob)).status, 'active');
    t.true((await engine.issueToken('ann')).created, 'ann may queue again');
  },
);

behaviour(
  'a user who still holds other seats keeps the token after one payment',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = await activeToken(engine, 'ann');
    const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    const second = await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
    await engine.charge(ann, { userId: 'ann', amount: 2_000 });
    await engine.pay(ann, { reservationId: first.id });
    t.is((await engine.getToken(ann)).status, 'active');
    await engine.pay(ann, { reservationId: second.id });
    await rejects(t, engine.getToken(ann), 'TOKEN_INVALID');
  },
);

behaviour('the timers run the scheduler, expiries and the sweep by themselves', async (t, kit) => {
  const { engine, clock } = await kit.start({
    config: {
      queueMaxActive: 1,
      queueTickMs: 1_000,
      tokenActiveTtlMs: 10_000,
      holdTtlMs: 5_000,
      holdSweepMs: 2_000,
    },
  });
  const ann = await activeToken(engine, 'ann');
  const bob = (await engine.issueToken('bob')).token.token;
  await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  for (let ms = 0; ms < 10_000; ms += 500) {
    clock.increment(500);
    await engine.getToken(bob); // bob keeps polling while he waits
  }
  t.is((await engine.getToken(bob)).status, 'active', 'ann expired and a tick admitted bob');
  const stats = await engine.stats();
  t.is(stats.heldSeats, 0, 'the hold expired on its own');
  t.is(stats.activeTokens, 1);
});

behaviour(
  'invariant 5: admission is FIFO and never exceeds maxActive, whatever the timing',
  async (t, kit) => {
    const fc = (await import('fast-check')).default;
    const run = fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            joins: fc.integer({ min: 0, max: 4 }),
            advanceMs: fc.integer({ min: 0, max: 4_000 }),
          }),
          {
            minLength: 1,
            maxLength: 25,
          },
        ),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        async (steps, maxActive, admitPerTick) => {
          const { engine, clock } = await kit.start({
            config: {
              queueMaxActive: maxActive,
              queueAdmitPerTick: admitPerTick,
              queueTickMs: 1_000,
              tokenActiveTtlMs: 5_000,
            },
          });
          const tokens: string[] = [];
          const admittedOrder: number[] = [];
          const seen = new Set<number>();
          for (const step of steps) {
            for (let i = 0; i < step.joins; i++)
              tokens.push((await engine.issueToken(`u${tokens.length}`)).token.token);
            clock.increment(step.advanceMs);
            let active = 0;
            for (const [i, token] of tokens.entries()) {
              const status = await engine.getToken(token).then(
                (view) => view.status,
                () => 'gone',
              );
              if (status === 'active') active++;
              if (status !== 'waiting' && !seen.has(i)) {
                seen.add(i);
                admittedOrder.push(i);
              }
            }
            if (active > maxActive) return false;
          }
          await engine.close();
          return admittedOrder.every((index, i) => index === i);
        },
      ),
      { numRuns: 40 },
    );
    await t.notThrowsAsync(run, 'every run admitted in issue order within maxActive');
  },
);
