import type { QueueToken, UsherEngine } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { rejects, START } from '@usher/testkit';

const HOUR = 3_600_000;
const OPENS_AT = START + 90 * 60_000;
/** The timers once a day: the test runs every tick itself, the opening's included (a simulated clock set past a timer fires it at the new time). */
const manual = { queueTickMs: 86_400_000, holdSweepMs: 86_400_000 };
const iso = (ms: number) => new Date(ms).toISOString();

/** One place, taken by `holder` for the whole test: the opening tick admits nobody, so the drawn positions are exactly 1..n. */
const onePlace = {
  ...manual,
  queueMaxActive: 1,
  queueAdmitPerTick: 10,
  tokenActiveTtlMs: 86_400_000,
  queueWaitingTtlMs: 86_400_000,
};

async function issue(engine: UsherEngine, users: readonly string[]): Promise<QueueToken[]> {
  const tokens: QueueToken[] = [];
  for (const user of users) tokens.push((await engine.issueToken(user)).token);
  return tokens;
}

async function positions(
  engine: UsherEngine,
  tokens: readonly QueueToken[],
): Promise<(number | null)[]> {
  return Promise.all(tokens.map(async (token) => (await engine.getToken(token.token)).position));
}

const users = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/**
 * How far a drawn order is from the join order: Spearman's rank correlation
 * (1 = join order kept, 0 = unrelated), the mean distance each moved, and how
 * many kept their place. For a uniform permutation of n: ρ ≈ 0 (sd 1/√(n−1)),
 * mean displacement ≈ (n²−1)/(3n), fixed points ≈ 1.
 */
function permutationStatistics(drawn: readonly number[]) {
  const n = drawn.length;
  let squares = 0;
  let displacement = 0;
  let fixed = 0;
  drawn.forEach((position, i) => {
    const d = position - (i + 1);
    squares += d * d;
    displacement += Math.abs(d);
    if (d === 0) fixed++;
  });
  return {
    n,
    spearman: 1 - (6 * squares) / (n * (n * n - 1)),
    meanDisplacement: displacement / n,
    expectedDisplacement: (n * n - 1) / (3 * n),
    fixedPoints: fixed,
  };
}

behaviour(
  'before opensAt tokens wait with position null and opensAt, nobody is admitted (not even at issue), and the wait counts down to it',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 5, queueWaitingTtlMs: 86_400_000 },
    });
    const { room } = await engine.updateRoom({ opensAt: iso(OPENS_AT) });
    t.is(room.opensAt, iso(OPENS_AT));
    const [ann, bob] = await issue(engine, ['ann', 'bob']);
    t.like(ann, { status: 'waiting', position: null, opensAt: iso(OPENS_AT) });
    t.true(
      ann!.estimatedWaitSeconds >= 5_400,
      `${ann!.estimatedWaitSeconds} s: at least the 90 minutes until the opening`,
    );
    const error = await rejects(t, engine.listConcerts(ann!.token), 'TOKEN_NOT_ACTIVE');
    t.is(error.details.position, null);
    t.regex(error.message, /opens at 2026-11-24T01:30:00.000Z/);

    clock.increment(HOUR / 2);
    const later = await engine.getToken(bob!.token);
    t.true(
      later.estimatedWaitSeconds >= 3_600 &&
        later.estimatedWaitSeconds <= ann!.estimatedWaitSeconds - 1_800,
      `${later.estimatedWaitSeconds} s half an hour on`,
    );
    for (let i = 0; i < 3; i++)
      t.is((await engine.tick()).admitted, 0, 'nobody before the opening');
    t.like(await engine.room(), { waiting: 2, active: 0, admittedTotal: 0 });

    clock.set(OPENS_AT);
    t.is((await engine.tick()).admitted, 2, 'the opening tick admits as any tick does');
    const opened = await engine.getToken(ann!.token);
    t.like(opened, { status: 'active', position: 0 });
    t.false('opensAt' in opened, 'once open, tokens no longer say when it opens');
    t.is(
      (await engine.issueToken('cat')).token.status,
      'active',
      'open: admitted at once again while there is room',
    );
  },
);

behaviour(
  'the fair start: 1,000 tokens issued before opensAt get a random permutation of 1..1,000, ahead of later joiners, durable across restarts at the opening, and positions never go up after',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: onePlace, onDisk: true });
    await issue(engine, ['holder']);
    await engine.updateRoom({ opensAt: iso(OPENS_AT) });
    const early: QueueToken[] = [];
    for (const user of users('u', 1_000)) {
      early.push((await engine.issueToken(user)).token);
      clock.increment(3_000); // arrivals spread over 50 minutes before the opening
    }
    t.true(early.every((token) => token.position === null && token.opensAt === iso(OPENS_AT)));

    // A restart at the opening moment, before the opening tick: everyone is still there, still without a place.
    clock.set(OPENS_AT);
    let current = await kit.restart();
    t.true((await positions(current, early)).every((position) => position === null));
    const atOpening = await issue(current, users('at', 10)); // joined at opensAt itself: after it, behind everyone before

    t.deepEqual(await current.tick(), { admitted: 0, waiting: 1_010, active: 1 });
    const drawn = (await positions(current, early)) as number[];
    t.deepEqual(
      [...drawn].sort((a, b) => a - b),
      Array.from({ length: 1_000 }, (_, i) => i + 1),
      'a permutation of 1..1,000',
    );
    t.notDeepEqual(
      drawn,
      Array.from({ length: 1_000 }, (_, i) => i + 1),
      'not the join order',
    );
    t.deepEqual(
      await positions(current, atOpening),
      Array.from({ length: 10 }, (_, i) => 1_001 + i),
      'those who joined at or after opensAt follow, first come first served',
    );
    const after = await issue(current, users('late', 10));
    t.deepEqual(
      after.map((token) => token.position),
      Array.from({ length: 10 }, (_, i) => 1_011 + i),
      'and so does everyone after the opening',
    );

    const stats = permutationStatistics(drawn);
    t.log(
      `${kit.kind}: n=${stats.n}, Spearman ρ(join order, drawn place)=${stats.spearman.toFixed(4)}, ` +
        `mean displacement ${stats.meanDisplacement.toFixed(1)} (uniform: ${stats.expectedDisplacement.toFixed(1)}), fixed points ${stats.fixedPoints} (uniform: ~1)`,
    );
    t.true(
      Math.abs(stats.spearman) < 0.15,
      `ρ = ${stats.spearman}: about 0 for a uniform draw (sd 0.032)`,
    );
    t.true(
      Math.abs(stats.meanDisplacement - stats.expectedDisplacement) < 45,
      `mean displacement ${stats.meanDisplacement} (sd about 7.5)`,
    );
    t.true(stats.fixedPoints <= 8, `${stats.fixedPoints} fixed points (Poisson(1))`);

    // A restart right after the opening: the draw is durable.
    current = await kit.restart();
    t.deepEqual(await positions(current, early), drawn, 'the same places after a restart');

    // Admission follows the drawn order, and nobody's place goes up.
    const everyone = [...early, ...atOpening, ...after];
    let last = [...drawn, ...(await positions(current, [...atOpening, ...after]))] as number[];
    await current.updateRoom({ maxActive: 1 + 30 });
    for (let round = 0; round < 3; round++) {
      t.is((await current.tick()).admitted, 10);
      const views = await Promise.all(everyone.map((token) => current.getToken(token.token)));
      views.forEach((view, i) => {
        if (view.position! > last[i]!)
          t.fail(`${view.userId} went from ${last[i]} to ${view.position}`);
        if (view.status === 'active')
          t.true(last[i]! <= 10, `${view.userId} was admitted from place ${last[i]}`);
      });
      t.is(views.filter((view) => view.status === 'active').length, 10 * (round + 1));
      last = views.map((view) => view.position!);
    }
    t.like(await current.room(), { waiting: 990, active: 31, admittedTotal: 31 });
  },
);

behaviour('with shuffle false the opening keeps the join order', async (t, kit) => {
  const { engine, clock } = await kit.start({ config: onePlace });
  await issue(engine, ['holder']);
  await engine.updateRoom({ opensAt: iso(OPENS_AT), shuffle: false });
  const early = await issue(engine, users('u', 50));
  clock.set(OPENS_AT);
  await engine.tick();
  const late = await issue(engine, users('late', 5));
  t.deepEqual(
    await positions(engine, [...early, ...late]),
    Array.from({ length: 55 }, (_, i) => i + 1),
  );
});

behaviour(
  'a watcher sees its position appear at the opening (null, then a number), and no countdown ticks before',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: onePlace });
    await issue(engine, ['holder']);
    await engine.updateRoom({ opensAt: iso(OPENS_AT) });
    const tokens = await issue(engine, users('u', 5));
    const seen = new Map<string, QueueToken[]>();
    for (const token of tokens) {
      seen.set(token.token, []);
      await engine.watchToken(token.token, {
        update: (view) => seen.get(token.token)!.push(view),
        end: () => undefined,
      });
    }
    for (let i = 0; i < 5; i++) {
      clock.increment(60_000);
      await engine.tick();
    }
    for (const views of seen.values())
      t.like(views, [{ position: null, opensAt: iso(OPENS_AT) }], 'one view, before the opening');
    clock.set(OPENS_AT);
    await engine.tick();
    const appeared = [...seen.values()].map((views) => views.at(-1)!);
    t.true(
      [...seen.values()].every((views) => views.length === 2),
      'one update at the opening',
    );
    t.deepEqual(appeared.map((view) => view.position).sort(), [1, 2, 3, 4, 5]);
    t.true(
      appeared.every(
        (view) =>
          view.status === 'waiting' && !('opensAt' in view) && view.estimatedWaitSeconds > 0,
      ),
    );
  },
);

behaviour(
  'opensAt: moving it later keeps the room closed; null opens a closed room at the next tick; a past one on an open room draws nothing',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: onePlace });
    await issue(engine, ['holder']);
    const first = await issue(engine, users('a', 3));
    t.deepEqual(
      first.map((token) => token.position),
      [1, 2, 3],
      'open: places in join order',
    );
    await engine.updateRoom({ opensAt: iso(START - HOUR) });
    await engine.tick();
    t.deepEqual(
      await positions(engine, first),
      [1, 2, 3],
      'an opening in the past changes nothing in an open room',
    );

    await engine.updateRoom({ opensAt: iso(OPENS_AT) });
    t.deepEqual(
      await positions(engine, first),
      [null, null, null],
      'an opening ahead closes the room from now on',
    );
    await engine.updateRoom({ opensAt: iso(OPENS_AT + HOUR) });
    clock.set(OPENS_AT);
    await engine.tick();
    t.deepEqual(
      await positions(engine, first),
      [null, null, null],
      'moved later: still closed at the first time',
    );

    const { room } = await engine.updateRoom({ opensAt: null });
    t.is(room.opensAt, iso(OPENS_AT), 'no opening after all: it opens now, and says so');
    await engine.tick();
    t.deepEqual((await positions(engine, first)).sort(), [1, 2, 3], 'drawn at the next tick');
  },
);

behaviour(
  'after the opening, those who leave the drawn part close up the places behind them; a second opening draws everyone still waiting again, durably',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...onePlace, queueWaitingTtlMs: 600_000 },
      onDisk: true,
    });
    await issue(engine, ['holder']);
    await engine.updateRoom({ opensAt: iso(START + 60_000) });
    const first = await issue(engine, users('a', 40));
    clock.set(START + 60_000);
    await engine.tick();
    const drawn = (await positions(engine, first)) as number[];

    // Ten of the drawn stop polling and are abandoned; the others keep their order and close up.
    const leaving = new Set(first.filter((_, i) => i % 4 === 0).map((token) => token.token));
    const staying = first.filter((token) => !leaving.has(token.token));
    clock.increment(400_000);
    await positions(engine, staying);
    clock.increment(200_000);
    await engine.tick();
    const closedUp = (await positions(engine, staying)) as number[];
    const drawnOf = (token: QueueToken) => drawn[first.indexOf(token)]!;
    const stayingDrawn = staying.map(drawnOf);
    t.deepEqual(
      closedUp,
      stayingDrawn.map((place) => stayingDrawn.filter((other) => other <= place).length),
      'ranks close up in the drawn order',
    );
    closedUp.forEach((position, i) => t.true(position <= stayingDrawn[i]!, 'and never go up'));

    // The room closes again for a second wave; newcomers join; everyone waiting is drawn anew at the second opening.
    await engine.updateRoom({ opensAt: iso(START + 900_000) });
    t.true((await positions(engine, staying)).every((position) => position === null));
    const second = await issue(engine, users('b', 20));
    clock.set(START + 900_000);
    await engine.tick();
    const all = [...staying, ...second];
    const redrawn = (await positions(engine, all)) as number[];
    t.deepEqual(
      [...redrawn].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
      'one permutation of everyone waiting',
    );
    const restarted = await kit.restart();
    t.deepEqual(await positions(restarted, all), redrawn, 'the second draw survives a restart');
    await restarted.updateRoom({ maxActive: 6 });
    t.is((await restarted.tick()).admitted, 5);
    const views = await Promise.all(all.map((token) => restarted.getToken(token.token)));
    t.deepEqual(
      views.flatMap((view, i) => (view.status === 'active' ? [redrawn[i]] : [])).sort(),
      [1, 2, 3, 4, 5],
      'admitted in the drawn order',
    );
    t.deepEqual(
      views.filter((view) => view.status === 'waiting').map((view) => view.position),
      redrawn.filter((place) => place > 5).map((place) => place - 5),
      'the others moved up by five',
    );
  },
);
