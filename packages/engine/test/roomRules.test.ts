import test from 'ava';
import {
  decideTick,
  decideUpdateRoom,
  DrawnOrder,
  initialRoom,
  lifecyclesFor,
  newDrawSeed,
  resolveConfig,
  type RoomState,
} from '@usher/engine/rules';

const config = resolveConfig({ queueAdmitPerTick: 5, queueMaxActive: 10 });
const lifecycles = lifecyclesFor(config);
const NOW = 1_000_000;

const orderOf = (drawn: DrawnOrder) =>
  Array.from({ length: drawn.draw.to - drawn.draw.from + 1 }, (_, i) =>
    drawn.placeAt(drawn.draw.from + i),
  );

test('a draw is a permutation of its places, the same one from the same seed, and leaves the others where they are', (t) => {
  const draw = { seed: newDrawSeed(), from: 101, to: 1_100 };
  const drawn = new DrawnOrder(draw);
  const order = orderOf(drawn);
  t.deepEqual(
    [...order].sort((a, b) => a - b),
    Array.from({ length: 1_000 }, (_, i) => 101 + i),
  );
  for (let place = 101; place <= 1_100; place++) t.is(drawn.placeAt(drawn.slotOf(place)), place);
  t.deepEqual(
    orderOf(new DrawnOrder({ ...draw })),
    order,
    'replayed from the seed: the same order (a restart, another engine)',
  );
  t.notDeepEqual(orderOf(new DrawnOrder({ ...draw, seed: newDrawSeed() })), order);
  t.is(drawn.slotOf(100), 100);
  t.is(drawn.slotOf(1_101), 1_101);
  t.throws(() => new DrawnOrder({ ...draw, seed: 'abc' }), { instanceOf: TypeError });
});

test('over fresh seeds, every order of three comes up equally often (χ², 6,000 draws)', (t) => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 6_000; i++) {
    const key = orderOf(new DrawnOrder({ seed: newDrawSeed(), from: 1, to: 3 })).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  t.is(counts.size, 6);
  const chi2 = [...counts.values()].reduce((sum, n) => sum + (n - 1_000) ** 2 / 1_000, 0);
  t.log(`χ² = ${chi2.toFixed(2)} with 5 degrees of freedom`);
  t.true(chi2 < 30, `χ² = ${chi2} (p < 1e-5 above 30)`);
});

test('decideUpdateRoom: opensAt ahead closes the room; behind, it only records it on an open room; null on a closed room opens it now', (t) => {
  const open = initialRoom(config);
  const ahead = decideUpdateRoom(open, { opensAt: new Date(NOW + 1).toISOString() }, NOW).answer
    .after;
  t.like(ahead, { opensAt: NOW + 1, pendingOpening: true });
  t.like(decideUpdateRoom(open, { opensAt: new Date(NOW - 1).toISOString() }, NOW).answer.after, {
    opensAt: NOW - 1,
    pendingOpening: false,
  });
  t.like(decideUpdateRoom(ahead, { opensAt: new Date(NOW - 1).toISOString() }, NOW).answer.after, {
    opensAt: NOW - 1,
    pendingOpening: true,
  });
  t.like(decideUpdateRoom(ahead, { opensAt: null }, NOW).answer.after, {
    opensAt: NOW,
    pendingOpening: true,
  });
  t.like(decideUpdateRoom(open, { opensAt: null }, NOW).answer.after, {
    opensAt: null,
    pendingOpening: false,
  });
  t.deepEqual(decideUpdateRoom(open, { paused: false }, NOW).changes, [], 'no change, no fact');
});

test('decideUpdateRoom: opensAt is any ISO 8601 instant with a time zone, years 0000–0099 too (not read as 19xx); a day that does not exist is refused', (t) => {
  const open = initialRoom(config);
  for (const [given, at] of [
    ['0050-01-01T00:00:00Z', Date.parse('0050-01-01T00:00:00Z')],
    ['0000-01-01T00:00:00.000Z', Date.parse('0000-01-01T00:00:00.000Z')],
    ['0099-12-31T23:59:59+09:00', Date.parse('0099-12-31T14:59:59Z')],
    ['2028-02-29T10:00:00Z', Date.parse('2028-02-29T10:00:00Z')],
  ] as const) {
    t.is(decideUpdateRoom(open, { opensAt: given }, NOW).answer.after.opensAt, at, given);
  }
  for (const bad of [
    '2027-02-29T10:00:00Z',
    '0050-02-30T00:00:00Z',
    '2027-04-31T00:00:00Z',
    '2027-05-01T24:00:00Z',
  ]) {
    t.throws(
      () => decideUpdateRoom(open, { opensAt: bad }, NOW),
      { message: /opensAt must be an ISO 8601 instant/ },
      bad,
    );
  }
});

test('decideTick: sold out ends the line before anything else; a due opening draws, then admits; paused or closed admits nobody', (t) => {
  const stock = { totalSeats: 10, heldSeats: 0, paidSeats: 3 };
  const seed = () => 'cd'.repeat(32);
  const closed: RoomState = { ...initialRoom(config), opensAt: NOW, pendingOpening: true };
  const opening = decideTick(
    { room: closed, waiting: 3, active: 0, stock, opening: { from: 7, to: 9 } },
    NOW,
    lifecycles,
    seed,
  );
  t.deepEqual(
    opening.changes.map((change) => change.type),
    ['roomChanged', 'tokensAdmitted'],
  );
  t.like(opening.changes[0], {
    room: { pendingOpening: false, draw: { seed: seed(), from: 7, to: 9 } },
  });
  t.like(opening.answer, { admitted: 3, opened: true, observed: true });
  const inOrder = decideTick(
    {
      room: { ...closed, shuffle: false },
      waiting: 3,
      active: 0,
      stock,
      opening: { from: 7, to: 9 },
    },
    NOW,
    lifecycles,
    seed,
  );
  t.like(
    inOrder.changes[0],
    { room: { pendingOpening: false, draw: null } },
    'shuffle false: no draw',
  );
  t.throws(
    () => decideTick({ room: closed, waiting: 3, active: 0, stock }, NOW, lifecycles, seed),
    { instanceOf: TypeError },
    'the range is needed',
  );
  t.like(decideTick({ room: closed, waiting: 3, active: 0, stock }, NOW - 1, lifecycles, seed), {
    changes: [],
    answer: { admitted: 0, observed: false },
  });

  const soldOut = decideTick(
    {
      room: closed,
      waiting: 3,
      active: 0,
      stock: { totalSeats: 10, heldSeats: 0, paidSeats: 10 },
      opening: { from: 7, to: 9 },
    },
    NOW,
    lifecycles,
    seed,
  );
  t.deepEqual(
    soldOut.changes.map((change) => change.type),
    ['tokensSoldOut', 'roomChanged'],
  );
  t.like(soldOut.answer, { admitted: 0, soldOut: 3 });
  t.like(soldOut.changes[1], { room: { soldOut: true, draw: null } }, 'nobody left to draw');

  const paused = { ...initialRoom(config), paused: true };
  t.like(decideTick({ room: paused, waiting: 3, active: 0, stock }, NOW, lifecycles, seed), {
    changes: [],
    answer: { admitted: 0, observed: false },
  });
  t.like(
    decideTick(
      { room: { ...initialRoom(config), maxActive: 2 }, waiting: 3, active: 4, stock },
      NOW,
      lifecycles,
      seed,
    ).answer,
    { admitted: 0 },
  );
});
