import { randomInt } from 'node:crypto';
import test from 'ava';
import {
  decideTick,
  decideUpdateRoom,
  initialRoom,
  lifecyclesFor,
  openingOrder,
  resolveConfig,
  shuffled,
  type LinePlace,
  type RoomState,
} from '@usher/engine/rules';

const config = resolveConfig({ queueAdmitPerTick: 5, queueMaxActive: 10 });
const lifecycles = lifecyclesFor(config);
const NOW = 1_000_000;

test('shuffled draws every order of three equally often (χ², 6,000 draws from crypto.randomInt)', (t) => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 6_000; i++) {
    const key = shuffled(['a', 'b', 'c'], randomInt).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  t.is(counts.size, 6);
  const chi2 = [...counts.values()].reduce((sum, n) => sum + (n - 1_000) ** 2 / 1_000, 0);
  t.log(`χ² = ${chi2.toFixed(2)} with 5 degrees of freedom`);
  t.true(chi2 < 30, `χ² = ${chi2} (p < 1e-5 above 30)`);
});

test('openingOrder: those who joined before the cut go first, in the drawn order; later joiners keep their order behind, even interleaved', (t) => {
  // Place numbers as an engine has them (gaps where someone left); c joined after the cut but holds an earlier place.
  const line: LinePlace[] = [
    { token: 'a', place: 3, issuedAt: 10 },
    { token: 'c', place: 4, issuedAt: 100 },
    { token: 'b', place: 7, issuedAt: 20 },
    { token: 'd', place: 8, issuedAt: 200 },
  ];
  const identity = (max: number) => max - 1; // Fisher–Yates swapping each item with itself
  t.deepEqual(openingOrder(line, 50, true, identity), { type: 'lineReordered', tokens: ['a', 'b', 'c'], places: [3, 4, 7] });
  t.deepEqual(openingOrder(line, 50, false, () => 0), { type: 'lineReordered', tokens: ['a', 'b', 'c'], places: [3, 4, 7] });
  t.is(openingOrder(line, 5, true, randomInt), undefined, 'nobody before the cut: nothing moves');
});

test('decideUpdateRoom: opensAt ahead closes the room; behind, it only records it on an open room; null on a closed room opens it now', (t) => {
  const open = initialRoom(config);
  const ahead = decideUpdateRoom(open, { opensAt: new Date(NOW + 1).toISOString() }, NOW).answer.after;
  t.like(ahead, { opensAt: NOW + 1, pendingOpening: true });
  t.like(decideUpdateRoom(open, { opensAt: new Date(NOW - 1).toISOString() }, NOW).answer.after, { opensAt: NOW - 1, pendingOpening: false });
  t.like(decideUpdateRoom(ahead, { opensAt: new Date(NOW - 1).toISOString() }, NOW).answer.after, { opensAt: NOW - 1, pendingOpening: true });
  t.like(decideUpdateRoom(ahead, { opensAt: null }, NOW).answer.after, { opensAt: NOW, pendingOpening: true });
  t.like(decideUpdateRoom(open, { opensAt: null }, NOW).answer.after, { opensAt: null, pendingOpening: false });
  t.deepEqual(decideUpdateRoom(open, { paused: false }, NOW).changes, [], 'no change, no fact');
});

test('decideTick: sold out ends the line before anything else; a due opening draws, then admits; paused or closed admits nobody', (t) => {
  const stock = { totalSeats: 10, heldSeats: 0, paidSeats: 3 };
  const line: LinePlace[] = [1, 2, 3].map((place) => ({ token: `t${place}`, place, issuedAt: NOW - 10 }));
  const closed: RoomState = { ...initialRoom(config), opensAt: NOW, pendingOpening: true };
  const opening = decideTick({ room: closed, waiting: 3, active: 0, stock, line }, NOW, lifecycles, randomInt);
  t.deepEqual(opening.changes.map((change) => change.type), ['lineReordered', 'roomChanged', 'tokensAdmitted']);
  t.like(opening.answer, { admitted: 3, opened: true, observed: true });
  t.throws(() => decideTick({ room: closed, waiting: 3, active: 0, stock }, NOW, lifecycles, randomInt), { instanceOf: TypeError }, 'the line is needed');
  t.like(decideTick({ room: closed, waiting: 3, active: 0, stock }, NOW - 1, lifecycles, randomInt), { changes: [], answer: { admitted: 0, observed: false } });

  const soldOut = decideTick({ room: closed, waiting: 3, active: 0, stock: { totalSeats: 10, heldSeats: 0, paidSeats: 10 }, line }, NOW, lifecycles, randomInt);
  t.deepEqual(soldOut.changes.map((change) => change.type), ['tokensSoldOut', 'roomChanged']);
  t.like(soldOut.answer, { admitted: 0, soldOut: 3 });

  const paused = { ...initialRoom(config), paused: true };
  t.like(decideTick({ room: paused, waiting: 3, active: 0, stock }, NOW, lifecycles, randomInt), { changes: [], answer: { admitted: 0, observed: false } });
  t.like(decideTick({ room: { ...initialRoom(config), maxActive: 2 }, waiting: 3, active: 4, stock }, NOW, lifecycles, randomInt).answer, { admitted: 0 });
});
