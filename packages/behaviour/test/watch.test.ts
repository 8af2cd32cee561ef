import type { QueueToken } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { manual, rejects } from '@usher/testkit';

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
  'a watcher gets the view at once, then an update per tick that changed it, then active and the end',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1_000 },
    });
    await engine.issueToken('ann');
    await engine.issueToken('bob');
    const cat = (await engine.issueToken('cat')).token.token;
    const watch = recorder();
    await engine.watchToken(cat, watch.watcher);
    t.deepEqual(
      watch.updates.map((view) => [view.status, view.position]),
      [['waiting', 2]],
    );
    clock.increment(1_000); // ann's token expires: the tick admits bob, cat moves up
    await engine.tick();
    t.deepEqual(watch.updates.map((view) => [view.status, view.position]).at(-1), ['waiting', 1]);
    clock.increment(1_000); // bob's expires: cat is admitted
    await engine.tick();
    t.like(watch.updates.at(-1), { status: 'active', position: 0, estimatedWaitSeconds: 0 });
    t.is(watch.ended(), 1);
    t.true(
      watch.updates.every(
        (view, i) =>
          i === 0 || view.position! <= watch.updates[i - 1]!.position! || view.status === 'active',
      ),
    );
    t.is((await engine.stats()).watchedTokens, 0);
  },
);

behaviour(
  'nothing is sent for a tick that changed nothing; a watched token is never abandoned',
  async (t, kit) => {
    // One admission per hour at best, and at worst: the wait estimate cannot move either.
    const config = {
      ...manual,
      queueMaxActive: 1,
      queueAdmitPerTick: 1,
      tokenActiveTtlMs: 3_600_000,
      queueWaitingTtlMs: 60_000,
    };
    const { engine, clock } = await kit.start({ config });
    await engine.issueToken('ann');
    const bob = (await engine.issueToken('bob')).token.token;
    const watch = recorder();
    await engine.watchToken(bob, watch.watcher);
    for (let i = 0; i < 5; i++) {
      clock.increment(30_000);
      await engine.tick();
    }
    t.is(watch.updates.length, 1, 'the position did not change');
    t.is(
      (await engine.getToken(bob)).status,
      'waiting',
      '150 s without a poll, yet still in line: the watcher counts',
    );
  },
);

behaviour(
  'stopping a watch stops its updates; closing the engine ends every watch',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 1 } });
    await engine.issueToken('ann');
    await engine.issueToken('bob');
    const cat = (await engine.issueToken('cat')).token.token;
    const dan = (await engine.issueToken('dan')).token.token;
    const stopped = recorder();
    const open = recorder();
    const stop = await engine.watchToken(cat, stopped.watcher);
    await engine.watchToken(dan, open.watcher);
    stop();
    t.is((await engine.stats()).watchedTokens, 1);
    await engine.close();
    t.is(stopped.ended(), 0);
    t.is(open.ended(), 1);
  },
);

behaviour(
  'watching an active token answers it and ends at once; an unknown one is refused',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = (await engine.issueToken('ann')).token.token;
    const watch = recorder();
    await engine.watchToken(ann, watch.watcher);
    t.deepEqual([watch.updates.map((view) => view.status), watch.ended()], [['active'], 1]);
    await rejects(t, engine.watchToken('nope', watch.watcher), 'TOKEN_INVALID');
    await rejects(t, engine.watchToken('', watch.watcher), 'TOKEN_MISSING');
  },
);

behaviour(
  'ten thousand watchers: one tick tells each the new position, and the tick is timed',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1 },
    });
    await engine.issueToken('first');
    const seen = new Map<string, number | null>();
    const tokens: string[] = [];
    for (let i = 0; i < 10_000; i++) tokens.push((await engine.issueToken(`u${i}`)).token.token);
    await Promise.all(
      tokens.map((token) =>
        engine.watchToken(token, {
          update: (view) => seen.set(view.token, view.position),
          end: () => undefined,
        }),
      ),
    );
    clock.increment(1); // 'first' expires: the tick admits u0, everyone else moves up by one
    await engine.tick();
    // Updates are handed out a thousand per turn of the event loop.
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    t.is(seen.get(tokens[0]!), 0);
    t.is(seen.get(tokens[1]!), 1);
    t.is(seen.get(tokens[9_999]!), 9_999);
    const stats = await engine.stats();
    t.is(stats.watchedTokens, 9_999);
    t.true(stats.lastTickMs > 0);
  },
);

behaviour(
  'a tick that admits the token while the watch is being set up still reaches the watcher, in order',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 1, tokenActiveTtlMs: 1_000 },
    });
    await engine.issueToken('ann');
    const bob = (await engine.issueToken('bob')).token.token;
    clock.increment(1_000); // ann's time is up: the next tick admits bob
    const watch = recorder();
    await Promise.all([engine.watchToken(bob, watch.watcher), engine.tick()]);
    // The watch's first read may come before the tick or after it (PostgreSQL batches reads): either
    // way the watcher ends on 'active' and never hears 'waiting' after it.
    t.true(
      ['waiting,active', 'active'].includes(watch.updates.map((view) => view.status).join()),
      watch.updates.map((view) => view.status).join(),
    );
    t.is(watch.ended(), 1);
  },
);

behaviour(
  "event streams follow the token's room: a place counts its own room's line only, and moves with that room's admissions",
  async (t, kit) => {
    const config = { ...manual, queueMaxActive: 100, tokenActiveTtlMs: 1_000 };
    const { engine, clock } = await kit.start({
      config,
      catalog: {
        concerts: [
          { id: 'one', title: 'One', room: { maxActive: 1, admitPerTick: 1 } },
          { id: 'two', title: 'Two', room: { maxActive: 1, admitPerTick: 1 } },
        ],
        schedules: [],
      },
    });
    for (const user of ['a1', 'a2', 'a3']) await engine.issueToken(user, { concertId: 'one' });
    for (const user of ['b1', 'b2']) await engine.issueToken(user, { concertId: 'two' });
    await engine.tick(); // lines up both rooms
    const b2 = (await engine.issueToken('b2', { concertId: 'two' })).token;
    t.like(b2, { status: 'waiting', position: 1, room: 'two' }, "room one's line is not counted");
    const a3 = (await engine.issueToken('a3', { concertId: 'one' })).token;
    t.like(a3, { status: 'waiting', position: 2, room: 'one' });
    const watchA = recorder();
    const watchB = recorder();
    await engine.watchToken(a3.token, watchA.watcher);
    await engine.watchToken(b2.token, watchB.watcher);
    clock.increment(1_000); // each room's active token expires: each admits its next
    await engine.tick();
    t.deepEqual(watchA.updates.map((view) => [view.status, view.position]).at(-1), ['waiting', 1]);
    t.like(watchB.updates.at(-1), { status: 'active', room: 'two' });
    t.is(watchB.ended(), 1);
    t.is(watchA.ended(), 0);
  },
);
