import test from 'ava';
import fc from 'fast-check';
import { FreeRuns, SeatPicker } from '@usher/engine/rules';

test('free runs never cross the end of a row', (t) => {
  const runs = new FreeRuns(1, 50, 25);
  t.is(runs.firstBlock(25), 1);
  t.is(runs.firstBlock(26), undefined, 'no row is longer than 25');
  runs.set(3, false);
  t.is(runs.firstBlock(2), 1);
  t.is(runs.firstBlock(3), 4);
  t.is(runs.firstBlock(22), 4, 'seats 4..25');
  t.is(runs.firstBlock(23), 26, 'the whole second row, not 4..26');
  t.is(runs.freeCount, 49);
  t.false(runs.isFree(3));
  runs.set(3, true);
  t.is(runs.firstBlock(25), 1);
});

test('the n-th free seat skips taken ones', (t) => {
  const runs = new FreeRuns(11, 20, 0, (seatNo) => seatNo % 2 === 0);
  t.deepEqual(
    [1, 2, 3, 4, 5, 6].map((rank) => runs.nthFree(rank)),
    [12, 14, 16, 18, 20, undefined],
  );
});

test('a picker takes the lowest block of a category, and the lowest seats when not together', (t) => {
  const picker = new SeatPicker(
    {
      totalSeats: 20,
      seatsPerRow: 5,
      prices: [
        { from: 1, to: 5, price: 300, name: 'VIP' },
        { from: 6, to: 12, price: 200, name: 'R' },
        { from: 13, to: 20, price: 100, name: 'R' },
      ],
    },
    (seatNo) => ![2, 7, 8].includes(seatNo),
  );
  t.true(picker.hasCategory('R'));
  t.false(picker.hasCategory('S'));
  t.deepEqual(picker.pick(3, { together: true }), [3, 4, 5]);
  t.deepEqual(picker.pick(3, { category: 'VIP', together: true }), [3, 4, 5]);
  t.deepEqual(picker.pick(4, { category: 'VIP', together: true }), undefined);
  t.deepEqual(picker.pick(4, { category: 'VIP', together: false }), [1, 3, 4, 5]);
  // R is 6..12 and 13..20; row 2 is 6..10 (7, 8 taken), row 3 is 11..15 (split between tiers).
  t.deepEqual(picker.pick(2, { category: 'R', together: true }), [9, 10]);
  t.deepEqual(picker.pick(3, { category: 'R', together: true }), [13, 14, 15]);
  t.deepEqual(picker.pick(5, { together: true }), [11, 12, 13, 14, 15], 'a block may span tiers');
  picker.set(14, false);
  t.deepEqual(picker.pick(3, { category: 'R', together: true }), [16, 17, 18]);
  t.is(picker.freeCount('R'), 12);
  t.is(picker.freeCount(), 16);
});

/** The naive scan best available replaces. */
function naiveBlock(free: boolean[], from: number, k: number, perRow: number): number | undefined {
  for (let start = from; start + k - 1 < free.length; start++) {
    let ok = true;
    for (let seat = start; seat < start + k && ok; seat++) {
      if (!free[seat]) ok = false;
      if (seat > start && perRow > 0 && (seat - 1) % perRow === 0) ok = false;
    }
    if (ok) return start;
  }
  return undefined;
}

test('free runs agree with a naive scan under random takes and frees', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 80 }),
      fc.integer({ min: 0, max: 12 }),
      fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.integer({ min: 1, max: 8 })), {
        maxLength: 120,
      }),
      (from, size, perRow, steps) => {
        const to = from + size - 1;
        const free: boolean[] = [];
        for (let seat = 0; seat <= to; seat++) free[seat] = seat >= from;
        const runs = new FreeRuns(from, to, perRow);
        for (const [at, isFree, k] of steps) {
          const seat = from + (at % size);
          free[seat] = isFree;
          runs.set(seat, isFree);
          if (runs.firstBlock(k) !== naiveBlock(free, from, k, perRow)) return false;
          const freeSeats = free.flatMap((f, seatNo) => (f ? [seatNo] : []));
          if (runs.freeCount !== freeSeats.length) return false;
          if (
            runs.nthFree(1 + (at % (freeSeats.length + 1))) !==
            freeSeats[at % (freeSeats.length + 1)]
          )
            return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('a pick on 1,000,000 seats looks at O(log n) nodes, not at the seats', (t) => {
  const runs = new FreeRuns(1, 1_000_000, 25, (seatNo) => seatNo > 999_000 || seatNo % 25 === 0);
  const started = performance.now();
  let found: number | undefined;
  for (let i = 0; i < 10_000; i++) found = runs.firstBlock(2);
  const perPick = (performance.now() - started) / 10_000;
  t.is(found, 999_001);
  t.true(perPick < 0.05, `a pick took ${perPick.toFixed(4)} ms`);
});
