import type { CatalogInput, QueueToken } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { assertInvariants } from './helpers/invariants.js';
import { manual, rejects } from '@usher/testkit';

/** Two seats in all. */
const tiny: CatalogInput = {
  concerts: [{ id: 'c1', title: 'Small Room' }],
  schedules: [
    {
      id: 's1',
      concertId: 'c1',
      startsAt: '2027-05-01T19:00:00+09:00',
      totalSeats: 2,
      price: 1_000,
    },
  ],
};

function recorder() {
  const updates: QueueToken[] = [];
  let ended = 0;
  return {
    updates,
    ended: () => ended,
    watcher: { update: (view: QueueToken) => updates.push(view), end: () => void ended++ },
  };
}

behaviour(
  'sold out: waiting tokens and their watchers end with reason sold_out; a hold still counts as unsold; new joiners are told at once',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 1 }, catalog: tiny });
    const ann = (await engine.issueToken('ann')).token.token;
    const bob = (await engine.issueToken('bob')).token.token;
    const cat = (await engine.issueToken('cat')).token.token;
    const watch = recorder();
    await engine.watchToken(cat, watch.watcher);

    const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    const second = await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
    await engine.charge(ann, { userId: 'ann', amount: 2_000 });
    await engine.pay(ann, { reservationId: first.id });
    await engine.tick();
    t.is(
      (await engine.getToken(bob)).status,
      'waiting',
      'a held seat may still come back: not sold out',
    );
    t.false((await engine.room()).soldOut);

    await engine.pay(ann, { reservationId: second.id });
    t.deepEqual(
      await engine.tick(),
      { admitted: 0, waiting: 0, active: 0 },
      'the tick ends the line instead of admitting to nothing',
    );
    t.like(await engine.room(), { soldOut: true, waiting: 0 });
    // Polled later, an ended token still says why (issue 21, finding 8).
    t.like(await engine.getToken(bob), { status: 'expired', reason: 'sold_out', position: 0 });
    t.like(await engine.getToken(cat), { status: 'expired', reason: 'sold_out', position: 0 });
    t.like(watch.updates.at(-1), {
      token: cat,
      status: 'expired',
      reason: 'sold_out',
      position: 0,
    });
    t.is(watch.ended(), 1, "the watcher's stream ends");

    const dan = await engine.issueToken('dan');
    t.true(dan.created);
    t.like(dan.token, {
      userId: 'dan',
      status: 'expired',
      reason: 'sold_out',
      position: 0,
      estimatedWaitSeconds: 0,
    });
    await rejects(t, engine.getToken(dan.token.token), 'TOKEN_INVALID');
    t.like(await engine.room(), { waiting: 0, active: 0 });
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  'sold out ends when there are seats again: a new schedule opens the line at the next tick',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 1 }, catalog: tiny });
    const ann = (await engine.issueToken('ann')).token.token;
    await engine.charge(ann, { userId: 'ann', amount: 2_000 });
    const holds = [
      await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 }),
      await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 }),
    ];
    for (const hold of holds) await engine.pay(ann, { reservationId: hold.id });
    await engine.tick();
    t.is((await engine.issueToken('bob')).token.reason, 'sold_out');
    await engine.loadCatalog({
      concerts: [],
      schedules: [
        {
          id: 's2',
          concertId: 'c1',
          startsAt: '2027-05-02T19:00:00+09:00',
          totalSeats: 1,
          price: 1_000,
        },
      ],
    });
    await engine.tick();
    t.false((await engine.room()).soldOut);
    const bob = await engine.issueToken('bob');
    t.like(bob.token, { status: 'active' });
    t.false('reason' in bob.token);
  },
);

behaviour(
  'finding 8: a token ended by sold-out keeps saying so when polled, across a restart, until kept tokens are forgotten; its user may join again',
  async (t, kit) => {
    const { engine: first, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 1 },
      catalog: tiny,
      onDisk: true,
    });
    const ann = (await first.issueToken('ann')).token.token;
    const bob = (await first.issueToken('bob')).token.token;
    await first.charge(ann, { userId: 'ann', amount: 2_000 });
    const holds = [
      await first.reserve(ann, { scheduleId: 's1', seatNo: 1 }),
      await first.reserve(ann, { scheduleId: 's1', seatNo: 2 }),
    ];
    for (const hold of holds) await first.pay(ann, { reservationId: hold.id });
    await first.tick();
    const ended = await first.getToken(bob);
    t.like(ended, {
      token: bob,
      userId: 'bob',
      status: 'expired',
      reason: 'sold_out',
      position: 0,
      estimatedWaitSeconds: 0,
    });
    t.false('opensAt' in ended);
    t.is(await first.tokenOwner(bob), 'bob');
    const engine = await kit.restart();
    t.deepEqual(await engine.getToken(bob), ended, 'the same answer after a restart');
    // Not a live token: it opens nothing, and its user joins anew (told at once while sold out).
    await rejects(t, engine.listConcerts(bob), 'TOKEN_INVALID');
    const again = await engine.issueToken('bob');
    t.true(again.created);
    t.not(again.token.token, bob);
    // Kept as long as a paid token is (idempotencyTtlMs, a day by default), then forgotten.
    clock.increment(86_400_000);
    await engine.sweep();
    await rejects(t, engine.getToken(bob), 'TOKEN_INVALID');
  },
);
