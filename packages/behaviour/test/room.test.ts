import { configBounds, type Room, type RoomSettings } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { manual, rejects, START } from '@usher/testkit';

const settingsOf = ({ paused, admitPerTick, maxActive, opensAt, shuffle }: Room): RoomSettings => ({
  paused,
  admitPerTick,
  maxActive,
  opensAt,
  shuffle,
});

async function issueAll(
  engine: { issueToken(userId: string): Promise<{ token: { token: string; status: string } }> },
  users: string[],
) {
  const tokens: { token: string; status: string }[] = [];
  for (const user of users) tokens.push((await engine.issueToken(user)).token);
  return tokens;
}

behaviour(
  'a new room starts from the configuration: admitting, open, shuffling at an opening',
  async (t, kit) => {
    const { engine } = await kit.start({
      config: { ...manual, queueAdmitPerTick: 7, queueMaxActive: 2 },
    });
    t.deepEqual(await engine.room(), {
      paused: false,
      admitPerTick: 7,
      maxActive: 2,
      opensAt: null,
      shuffle: true,
      waiting: 0,
      active: 0,
      admittedTotal: 0,
      soldOut: false,
    });
    await issueAll(engine, ['ann', 'bob', 'cat']);
    t.like(await engine.room(), { waiting: 1, active: 2, admittedTotal: 2 });
  },
);

behaviour(
  'pause holds everyone back across ticks, issuing included; resume admits at the next tick',
  async (t, kit) => {
    const { engine } = await kit.start({
      config: { ...manual, queueMaxActive: 10, queueAdmitPerTick: 2 },
    });
    await engine.issueToken('ann');
    const { before, room } = await engine.updateRoom({ paused: true });
    t.false(before.paused);
    t.true(room.paused);
    const tokens = await issueAll(engine, ['u1', 'u2', 'u3', 'u4', 'u5']);
    t.deepEqual(
      tokens.map((token) => token.status),
      Array(5).fill('waiting'),
      'a paused room admits nobody at issue either',
    );
    for (let i = 0; i < 3; i++) t.is((await engine.tick()).admitted, 0, `paused tick ${i}`);
    t.like(await engine.room(), { waiting: 5, active: 1, admittedTotal: 1 });

    await engine.updateRoom({ paused: false, admitPerTick: 3 });
    t.deepEqual(
      await engine.tick(),
      { admitted: 3, waiting: 2, active: 4 },
      'resumed, with the new admitPerTick',
    );
    t.deepEqual(await engine.tick(), { admitted: 2, waiting: 0, active: 6 });
    const statuses = await Promise.all(
      tokens.map(async (token) => (await engine.getToken(token.token)).status),
    );
    t.deepEqual(statuses, Array(5).fill('active'));
    t.is((await engine.room()).admittedTotal, 6);
  },
);

behaviour(
  'maxActive lowered below the active count admits nobody until under it; nobody is thrown out',
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, queueMaxActive: 4, queueAdmitPerTick: 10, tokenActiveTtlMs: 10_000 },
    });
    const active = [];
    for (const user of ['a1', 'a2', 'a3', 'a4']) {
      active.push((await engine.issueToken(user)).token);
      clock.increment(1_000);
    }
    t.deepEqual(
      active.map((token) => token.status),
      Array(4).fill('active'),
    );
    const waiting = await issueAll(engine, ['w1', 'w2', 'w3']);
    await engine.updateRoom({ maxActive: 2 });
    t.deepEqual(
      await engine.tick(),
      { admitted: 0, waiting: 3, active: 4 },
      'four stay active above the new maximum',
    );
    for (const token of active) t.is((await engine.getToken(token.token)).status, 'active');

    clock.set(START + 10_000); // a1 ends: 3 active, still above 2
    t.is((await engine.tick()).admitted, 0);
    clock.set(START + 11_000); // a2 ends: 2 active, at the maximum
    t.is((await engine.tick()).admitted, 0);
    clock.set(START + 12_000); // a3 ends: 1 active, one place under it
    t.deepEqual(await engine.tick(), { admitted: 1, waiting: 2, active: 2 });
    t.is((await engine.getToken(waiting[0]!.token)).status, 'active');
    t.true(
      (await engine.issueToken('late')).token.status === 'waiting',
      'no admission at issue above the maximum either',
    );

    await engine.updateRoom({ maxActive: 5 });
    t.deepEqual(
      await engine.tick(),
      { admitted: 3, waiting: 0, active: 5 },
      'raised: admitted up to it at the next tick',
    );
  },
);

behaviour(
  'updateRoom refuses bad values with VALIDATION_FAILED and changes nothing',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    await engine.updateRoom({ admitPerTick: 5, opensAt: '2030-01-01T00:00:00Z' });
    const before = await engine.room();
    const { queueAdmitPerTick: perTick, queueMaxActive: max } = configBounds;
    const bad: unknown[] = [
      null,
      [],
      'paused',
      42,
      { paused: 'yes' },
      { paused: 1 },
      { shuffle: null },
      { admitPerTick: 0 },
      { admitPerTick: 1.5 },
      { admitPerTick: perTick.max + 1 },
      { admitPerTick: '10' },
      { maxActive: perTick.min - 1 },
      { maxActive: max.max + 1 },
      { maxActive: Number.NaN },
      { opensAt: 'tomorrow' },
      { opensAt: '2027-05-01' },
      { opensAt: '2027-05-01T10:00:00' },
      { opensAt: '2027-02-30T10:00:00Z' },
      { opensAt: 1_800_000_000_000 },
      { opensAt: '' },
      { unknown: true },
      { paused: true, maxActive: 0 },
      { admitPerTick: 3, opensAt: 'soon' },
    ];
    for (const patch of bad) {
      await rejects(t, engine.updateRoom(patch as Partial<RoomSettings>), 'VALIDATION_FAILED');
    }
    t.deepEqual(await engine.room(), before, 'nothing changed');
    const { room } = await engine.updateRoom({
      admitPerTick: perTick.max,
      maxActive: max.max,
      opensAt: '2030-01-01T09:00:00+09:00',
      shuffle: false,
    });
    t.like(
      room,
      {
        admitPerTick: perTick.max,
        maxActive: max.max,
        opensAt: '2030-01-01T00:00:00.000Z',
        shuffle: false,
      },
      'the bounds themselves are fine',
    );
    const { before: same, room: unchanged } = await engine.updateRoom({});
    t.deepEqual(unchanged, same, 'an empty change changes nothing');
  },
);

behaviour('the room settings and the admitted total survive a restart', async (t, kit) => {
  const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 2 }, onDisk: true });
  await issueAll(engine, ['ann', 'bob', 'cat']);
  const settings: RoomSettings = {
    paused: true,
    admitPerTick: 3,
    maxActive: 7,
    opensAt: '2030-06-01T10:00:00.000Z',
    shuffle: false,
  };
  const { room } = await engine.updateRoom(settings);
  t.deepEqual(settingsOf(room), settings);
  const restarted = await kit.restart();
  t.deepEqual(await restarted.room(), {
    ...settings,
    waiting: 1,
    active: 2,
    admittedTotal: 2,
    soldOut: false,
  });
  // No opening after all: the room, which waited for one, opens now (opensAt says when) at the next tick.
  await restarted.updateRoom({ paused: false, opensAt: null, maxActive: 3 });
  await restarted.tick();
  const again = await kit.restart();
  t.like(await again.room(), {
    paused: false,
    opensAt: new Date(START).toISOString(),
    maxActive: 3,
    waiting: 0,
    active: 3,
    admittedTotal: 3,
  });
});

behaviour(
  'observe reports ticks (duration, admitted) and the commands whose changes became durable',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 1 } });
    const ticks: { durationMs: number; admitted: number }[] = [];
    const commits: { command: string; durationMs: number }[] = [];
    const stop = engine.observe({
      tick: (report) => ticks.push(report),
      commit: (report) => commits.push(report),
    });
    const ann = (await engine.issueToken('ann')).token.token;
    const bob = (await engine.issueToken('bob')).token.token;
    await engine.getToken(bob);
    await engine.charge(ann, { userId: 'ann', amount: 1_000 });
    const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 1 }), 'SEAT_UNAVAILABLE');
    await engine.pay(ann, { reservationId: hold.id });
    await engine.tick();
    await engine.updateRoom({ admitPerTick: 5 });
    await engine.updateRoom({ admitPerTick: 5 });
    t.deepEqual(
      commits.map((commit) => commit.command),
      ['issueToken', 'issueToken', 'charge', 'reserve', 'pay', 'updateRoom'],
      'reads, refusals and changes that change nothing commit nothing; a tick is reported as a tick',
    );
    t.true(commits.every((commit) => commit.durationMs >= 0));
    t.is(ticks.length, 1);
    t.is(ticks[0]!.admitted, 1, 'bob took the place ann paid for');
    t.true(ticks[0]!.durationMs > 0);
    stop();
    await engine.tick();
    await engine.issueToken('cat');
    t.is(ticks.length, 1, 'nothing after stop');
  },
);
