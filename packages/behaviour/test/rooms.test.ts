import type { CatalogInput, UsherEngine } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { assertInvariants } from './helpers/invariants.js';
import { rejects, START } from '@usher/testkit';

/** Timers once a day: each test runs its ticks itself. */
const manual = {
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  tokenActiveTtlMs: 86_400_000,
  queueWaitingTtlMs: 86_400_000,
};
const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Three concerts: `early` opens in 10 minutes with 2 places, `late` in 30
 * minutes with 3 places and no shuffle, `plain` has no room of its own (the
 * default room, open, 100 places). Each has one seat, except `plain` (2).
 */
const rooms: CatalogInput = {
  concerts: [
    {
      id: 'early',
      title: 'Early Show',
      room: { opensAt: iso(START + 10 * MINUTE), maxActive: 2, admitPerTick: 10 },
    },
    {
      id: 'late',
      title: 'Late Show',
      room: { opensAt: iso(START + 30 * MINUTE), maxActive: 3, shuffle: false },
    },
    { id: 'plain', title: 'Plain Show' },
  ],
  schedules: [
    {
      id: 'early-1',
      concertId: 'early',
      startsAt: '2027-05-01T19:00:00Z',
      totalSeats: 1,
      price: 1_000,
    },
    {
      id: 'late-1',
      concertId: 'late',
      startsAt: '2027-05-02T19:00:00Z',
      totalSeats: 1,
      price: 1_000,
    },
    {
      id: 'plain-1',
      concertId: 'plain',
      startsAt: '2027-05-03T19:00:00Z',
      totalSeats: 2,
      price: 1_000,
    },
  ],
};

/** The same concerts without rooms of their own. */
const plainCatalog: CatalogInput = {
  concerts: rooms.concerts.map(({ room: _room, ...concert }) => concert),
  schedules: rooms.schedules,
};

async function join(engine: UsherEngine, concertId: string | undefined, users: readonly string[]) {
  const tokens: string[] = [];
  for (const user of users)
    tokens.push((await engine.issueToken(user, concertId ? { concertId } : {})).token.token);
  return tokens;
}

const names = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}`);

behaviour(
  'rooms: two rooms with different opensAt and maxActive admit independently; the default room is as before',
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: manual, catalog: rooms });
    const early = await join(engine, 'early', names('e', 4));
    const late = await join(engine, 'late', names('l', 5));
    const plain = await join(engine, undefined, ['p0']);
    t.like(
      await engine.getToken(plain[0]!),
      { status: 'active', room: 'default' },
      'the default room is open',
    );
    t.like(await engine.getToken(early[0]!), { status: 'waiting', position: null, room: 'early' });
    t.like(await engine.getToken(late[0]!), {
      status: 'waiting',
      position: null,
      opensAt: iso(START + 30 * MINUTE),
      room: 'late',
    });

    // One user, one live token per room: joining another room gives another token.
    const again = await engine.issueToken('e0', { concertId: 'early' });
    t.false(again.created);
    const elsewhere = await engine.issueToken('e0', { concertId: 'late' });
    t.true(elsewhere.created);
    t.like(elsewhere.token, { room: 'late', userId: 'e0' });

    clock.set(START + 10 * MINUTE);
    await engine.tick();
    const earlyRoom = await engine.room('early');
    t.like(earlyRoom, { id: 'early', active: 2, waiting: 2, maxActive: 2, admittedTotal: 2 });
    t.like(await engine.room('late'), { id: 'late', active: 0, waiting: 6, admittedTotal: 0 });
    t.like(await engine.room(), { active: 1, waiting: 0, admittedTotal: 1 });

    clock.set(START + 30 * MINUTE);
    await engine.tick();
    t.like(await engine.room('early'), { active: 2, waiting: 2 }, 'early stays at its own cap');
    t.like(await engine.room('late'), { active: 3, waiting: 3 });
    // No shuffle in `late`: the first three who joined are in.
    for (const token of late.slice(0, 3))
      t.like(await engine.getToken(token), { status: 'active' });
    t.like(await engine.getToken(late[3]!), { status: 'waiting', position: 1 });

    const listed = await engine.rooms();
    t.deepEqual(
      listed.map((room) => [room.id, room.active]),
      [
        ['default', 1],
        ['early', 2],
        ['late', 3],
      ],
    );
    await rejects(t, engine.room('nowhere'), 'ROOM_NOT_FOUND');
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  "rooms: a token admits to its own concert's routes only (TOKEN_WRONG_ROOM elsewhere); every active token lists every concert",
  async (t, kit) => {
    const open = {
      concerts: rooms.concerts.map((concert) =>
        concert.room ? { ...concert, room: { maxActive: 5 } } : concert,
      ),
      schedules: rooms.schedules,
    };
    const { engine } = await kit.start({ config: manual, catalog: open });
    const [early] = await join(engine, 'early', ['ann']);
    const [plain] = await join(engine, undefined, ['ann']);
    t.like(await engine.getToken(early!), { status: 'active', room: 'early' });

    const concerts = await engine.listConcerts(early!);
    t.deepEqual(
      concerts.map((concert) => [concert.id, concert.room]),
      [
        ['early', 'early'],
        ['late', 'late'],
        ['plain', undefined],
      ],
    );
    t.is((await engine.listConcerts(plain!)).length, 3);

    t.is((await engine.listSchedules(early!, 'early')).length, 1);
    await rejects(t, engine.listSchedules(early!, 'late'), 'TOKEN_WRONG_ROOM');
    await rejects(t, engine.listSchedules(early!, 'plain'), 'TOKEN_WRONG_ROOM');
    await rejects(t, engine.listSchedules(plain!, 'early'), 'TOKEN_WRONG_ROOM');
    await rejects(t, engine.listSeats(early!, 'late-1'), 'TOKEN_WRONG_ROOM');
    await rejects(
      t,
      engine.reserve(plain!, { scheduleId: 'early-1', seatNo: 1 }),
      'TOKEN_WRONG_ROOM',
    );
    await rejects(t, engine.listSchedules(early!, 'nowhere'), 'CONCERT_NOT_FOUND');

    const held = await engine.reserve(early!, { scheduleId: 'early-1', seatNo: 1 });
    await rejects(t, engine.getReservation(plain!, held.id), 'TOKEN_WRONG_ROOM');
    await rejects(t, engine.pay(plain!, { reservationId: held.id }), 'TOKEN_WRONG_ROOM');
    t.like(await engine.getReservation(early!, held.id), { status: 'held' });
    t.is((await engine.listSeats(plain!, 'plain-1')).seats.length, 2);

    await rejects(t, engine.issueToken('bob', { concertId: 'nowhere' }), 'CONCERT_NOT_FOUND');
    assertInvariants(t, await kit.durable());
  },
);

/** The rooms of `rooms`, open now, one place each. */
const small: CatalogInput = {
  concerts: rooms.concerts.map((concert) =>
    concert.room ? { ...concert, room: { maxActive: 1 } } : concert,
  ),
  schedules: rooms.schedules,
};

behaviour("rooms: one room sold out leaves the other's line alone", async (t, kit) => {
  const { engine } = await kit.start({ config: manual, catalog: small });
  const [buyer, ...early] = await join(engine, 'early', ['ann', 'bob', 'cat']);
  const late = await join(engine, 'late', ['ann', 'dan', 'eve']);
  const plain = await join(engine, undefined, ['fay']);
  t.like(await engine.getToken(buyer!), { status: 'active' });

  const held = await engine.reserve(buyer!, { scheduleId: 'early-1', seatNo: 1 });
  await engine.charge(buyer!, { userId: 'ann', amount: 1_000 });
  await engine.pay(buyer!, { reservationId: held.id });
  await engine.tick();

  t.like(await engine.room('early'), { soldOut: true, waiting: 0 });
  for (const token of early)
    t.like(await engine.getToken(token), { status: 'expired', reason: 'sold_out' });
  t.like(await engine.room('late'), { soldOut: false, waiting: 2, active: 1 });
  t.like(await engine.getToken(late[1]!), { status: 'waiting', position: 1 });
  t.like(await engine.room(), { soldOut: false });
  t.like(await engine.getToken(plain[0]!), { status: 'active' });
  const joined = await engine.issueToken('gus', { concertId: 'early' });
  t.like(joined.token, { status: 'expired', reason: 'sold_out', room: 'early' });
  t.like((await engine.issueToken('gus', { concertId: 'late' })).token, { status: 'waiting' });
  assertInvariants(t, await kit.durable());
});

behaviour(
  "rooms: a refund reopens its own room's sale, and only that room's (the default room's seats are still all paid)",
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual, catalog: small });
    const [ann] = await join(engine, 'early', ['ann']);
    const [fay] = await join(engine, undefined, ['fay']);
    const early = await engine.reserve(ann!, { scheduleId: 'early-1', seatNo: 1 });
    await engine.charge(ann!, { userId: 'ann', amount: 1_000 });
    await engine.pay(ann!, { reservationId: early.id });
    const plain = await engine.reserve(fay!, { scheduleId: 'plain-1', seatNos: [1, 2] });
    await engine.charge(fay!, { userId: 'fay', amount: 2_000 });
    await engine.pay(fay!, { reservationId: plain.id });
    await engine.tick();
    t.like(await engine.room('early'), { soldOut: true });
    t.like(await engine.room(), { soldOut: true });

    const [ticket] = await engine.listTickets('ann');
    t.like(await engine.refundTicket(ticket!.id, { userId: 'ann' }), { status: 'refunded' });
    await engine.tick();
    t.like(await engine.room('early'), { soldOut: false });
    t.like(await engine.room(), { soldOut: true });
    t.like(await engine.room('late'), { soldOut: false });
    assertInvariants(t, await kit.durable());
  },
);

behaviour(
  "rooms: presale codes go to the head of their room's line, never past maxActive, and are spent once",
  async (t, kit) => {
    const { engine, clock } = await kit.start({ config: manual, catalog: rooms });
    const { codes } = await engine.createCodes('early', 3);
    t.is(codes.length, 3);
    t.is(new Set(codes).size, 3);
    await rejects(t, engine.createCodes('nowhere', 1), 'ROOM_NOT_FOUND');
    await rejects(t, engine.createCodes('early', 0), 'VALIDATION_FAILED');

    const line = await join(engine, 'early', names('w', 3));
    const coded = await engine.issueToken('vip', { concertId: 'early', code: codes[0]! });
    t.true(coded.created);
    t.like(coded.token, { status: 'waiting', position: 1, room: 'early' });
    t.like(
      await engine.getToken(line[0]!),
      { position: null },
      'the others still wait for the draw',
    );

    // Spent: again, by anyone, is refused; the user's own retry answers their token.
    t.false((await engine.issueToken('vip', { concertId: 'early', code: codes[0]! })).created);
    await rejects(
      t,
      engine.issueToken('other', { concertId: 'early', code: codes[0]! }),
      'CODE_INVALID',
    );
    await rejects(
      t,
      engine.issueToken('other', { concertId: 'early', code: 'P-nope' }),
      'CODE_INVALID',
    );
    await rejects(
      t,
      engine.issueToken('other', { concertId: 'late', code: codes[1]! }),
      'CODE_INVALID',
    );
    await rejects(t, engine.issueToken('other', { code: codes[1]! }), 'CODE_INVALID');

    // Before the opening, a code's holder is admitted at the next tick.
    await engine.tick();
    t.like(await engine.getToken(coded.token.token), { status: 'active' });
    t.like(await engine.room('early'), { active: 1, waiting: 3 });

    // Two more codes, one place left under maxActive 2: one now, the other at the next free place.
    const second = (await engine.issueToken('vip2', { concertId: 'early', code: codes[1]! })).token;
    const third = (await engine.issueToken('vip3', { concertId: 'early', code: codes[2]! })).token;
    t.like(third, { position: 2 });
    clock.set(START + 10 * MINUTE);
    await engine.tick();
    t.like(await engine.getToken(second.token), { status: 'active' });
    t.like(await engine.getToken(third.token), { status: 'waiting', position: 1 });
    t.like(await engine.room('early'), { active: 2, waiting: 4 }, 'never past maxActive');
    for (const token of line) t.like(await engine.getToken(token), { status: 'waiting' });

    const durable = await kit.durable();
    t.false(JSON.stringify([...durable.codes]).includes(codes[0]!), 'only hashes are stored');
    const restarted = await kit.restart();
    await rejects(
      t,
      restarted.issueToken('late', { concertId: 'early', code: codes[1]! }),
      'CODE_INVALID',
    );
    t.like(await restarted.getToken(third.token), { status: 'waiting', position: 1 });
  },
);

behaviour("rooms: a restart keeps every room's settings, order and counts", async (t, kit) => {
  const { engine, clock } = await kit.start({ config: manual, catalog: rooms, onDisk: true });
  const early = await join(engine, 'early', names('e', 6));
  const late = await join(engine, 'late', names('l', 6));
  clock.set(START + 10 * MINUTE);
  await engine.tick();
  await engine.updateRoom({ admitPerTick: 1 }, 'late');
  const positions = async (target: UsherEngine, tokens: string[]) =>
    Promise.all(tokens.map(async (token) => (await target.getToken(token)).position));
  const before = {
    early: await positions(engine, early),
    late: await positions(engine, late),
    rooms: await engine.rooms(),
  };
  const restarted = await kit.restart();
  t.deepEqual(await positions(restarted, early), before.early);
  t.deepEqual(await positions(restarted, late), before.late);
  t.deepEqual(await restarted.rooms(), before.rooms);
  clock.set(START + 30 * MINUTE);
  await restarted.tick();
  t.like(await restarted.room('late'), { active: 1, waiting: 5, admitPerTick: 1 });
  t.like(await restarted.getToken(late[0]!), { status: 'active' });
});

behaviour(
  "presale codes in the default room: the head of the line, spent once, kept across a restart; the others' places never go up",
  async (t, kit) => {
    const { engine } = await kit.start({
      config: { ...manual, queueMaxActive: 1, queueAdmitPerTick: 10 },
      catalog: plainCatalog,
    });
    const [first, ...line] = await join(engine, undefined, names('w', 4));
    t.like(await engine.getToken(first!), { status: 'active' });
    const { codes } = await engine.createCodes('default', 2);
    t.is(codes.length, 2);
    await rejects(t, engine.createCodes('default', 1001), 'VALIDATION_FAILED');
    await rejects(t, engine.createCodes('nowhere', 1), 'ROOM_NOT_FOUND');

    const before = await Promise.all(
      line.map(async (token) => (await engine.getToken(token)).position),
    );
    const vip = await engine.issueToken('vip', { code: codes[0]! });
    t.like(vip.token, { status: 'waiting', position: 1, room: 'default' });
    const vip2 = await engine.issueToken('vip2', { code: codes[1]! });
    t.like(vip2.token, { status: 'waiting', position: 2 });
    const after = await Promise.all(
      line.map(async (token) => (await engine.getToken(token)).position),
    );
    after.forEach((position, i) =>
      t.true(position! <= before[i]!, 'a code never moves anyone back'),
    );

    await rejects(t, engine.issueToken('dan', { code: codes[0]! }), 'CODE_INVALID');
    await rejects(t, engine.issueToken('dan', { code: 'P-unknown-code' }), 'CODE_INVALID');
    t.false((await engine.issueToken('vip', { code: codes[0]! })).created, "the user's own retry");

    // One place: it frees, and the next tick admits the first code's holder, not the line's head.
    await engine.updateRoom({ maxActive: 2 });
    await engine.tick();
    t.like(await engine.getToken(vip.token.token), { status: 'active' });
    t.like(await engine.getToken(vip2.token.token), { status: 'waiting', position: 1 });
    t.like(await engine.getToken(line[0]!), { status: 'waiting' });
    t.like(await engine.room(), { active: 2, waiting: 4 }, 'never past maxActive');

    const durable = await kit.durable();
    const stored = JSON.stringify([...durable.codes]);
    t.false(stored.includes(codes[0]!) || stored.includes(codes[1]!), 'only hashes are stored');
    t.is([...durable.codes.values()].filter((code) => code.spentAt !== undefined).length, 2);
    const restarted = await kit.restart();
    await rejects(t, restarted.issueToken('eve', { code: codes[1]! }), 'CODE_INVALID');
    await restarted.updateRoom({ maxActive: 3 });
    await restarted.tick();
    t.like(await restarted.getToken(vip2.token.token), { status: 'active' });
    t.like(await restarted.getToken(line[0]!), { status: 'waiting', position: 1 });
  },
);

behaviour(
  'a catalog with rooms of concerts: both engines take it; a concert without a room of its own joins the default room',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual, catalog: null });
    t.like(await engine.loadCatalog(rooms), { concertsAdded: 3 });
    t.like(await engine.loadCatalog(rooms), { concertsAdded: 0 }, 'loading it again adds nothing');
    t.deepEqual(
      (await engine.rooms()).map((room) => room.id),
      ['default', 'early', 'late'],
    );
    await rejects(t, engine.issueToken('ann', { concertId: 'nowhere' }), 'CONCERT_NOT_FOUND');
    t.like((await engine.issueToken('ann', { concertId: 'plain' })).token, { room: 'default' });
    t.like((await engine.issueToken('ann', { concertId: 'early' })).token, { room: 'early' });
  },
);
