import test from 'ava';
import {
  DrawnOrder,
  initialRoom,
  newDrawSeed,
  resolveConfig,
  type Draw,
  type RoomState,
} from '@usher/engine/rules';
import { QueueMirror, type TickRow } from '../src/QueueMirror.js';

const config = resolveConfig({});

function step(no: number, lineEnd: number, departed: number[], room: RoomState): TickRow {
  return {
    no,
    at: no,
    real: true,
    lineEnd,
    seqEnd: lineEnd,
    departed,
    admitted: 0,
    hadWaiting: false,
    waiting: 0,
    active: 0,
    nextAbandonAt: Infinity,
    room,
  };
}

/** Who is in line, in order, as the mirror ranks them. */
function orderOf(mirror: QueueMirror, lines: Iterable<number>): number[] {
  const ranked = [...lines]
    .map((line) => [mirror.rank(line), line] as const)
    .filter(([rank]) => rank > 0);
  ranked.sort((a, b) => a[0] - b[0]);
  ranked.forEach(([rank], i) => {
    if (rank !== i + 1) throw new Error(`ranks are not 1..n: ${rank} at ${i}`);
  });
  return ranked.map(([, line]) => line);
}

test('the mirror ranks lines in the drawn order, through admissions that compact its window and a second draw', (t) => {
  const mirror = new QueueMirror(config);
  const open = initialRoom(config);
  let no = 0;
  t.true(mirror.apply(step(++no, 10_000, [], open)));
  const first: Draw = { seed: newDrawSeed(), from: 1, to: 10_000 };
  t.true(mirror.apply(step(++no, 10_000, [], { ...open, draw: first })));
  const drawn1 = new DrawnOrder(first);
  const expected1 = Array.from({ length: 10_000 }, (_, i) => drawn1.placeAt(i + 1));
  t.deepEqual(
    orderOf(
      mirror,
      Array.from({ length: 10_000 }, (_, i) => i + 1),
    ),
    expected1,
  );

  // 6,000 admitted in drawn order, 100 abandoned from the middle, 2,000 arrive.
  const admitted = expected1.slice(0, 6_000);
  const abandoned = expected1.slice(8_000, 8_100);
  t.true(mirror.apply(step(++no, 12_000, [...admitted, ...abandoned], { ...open, draw: first })));
  const left = new Set([...admitted, ...abandoned]);
  const waiting = [
    ...expected1.filter((line) => !left.has(line)),
    ...Array.from({ length: 2_000 }, (_, i) => 10_001 + i),
  ];
  t.deepEqual(
    orderOf(
      mirror,
      Array.from({ length: 12_000 }, (_, i) => i + 1),
    ),
    waiting,
  );

  // A second opening draws everyone still waiting, from the smallest line among them to the last.
  const second: Draw = { seed: newDrawSeed(), from: Math.min(...waiting), to: 12_000 };
  t.true(mirror.apply(step(++no, 12_000, [], { ...open, draw: second })));
  const drawn2 = new DrawnOrder(second);
  const present = new Set(waiting);
  const expected2 = Array.from({ length: second.to - second.from + 1 }, (_, i) =>
    drawn2.placeAt(second.from + i),
  ).filter((line) => present.has(line));
  t.deepEqual(
    orderOf(
      mirror,
      Array.from({ length: 12_000 }, (_, i) => i + 1),
    ),
    expected2,
  );

  // A mirror that starts from the tokens (another instance, a restart) ranks them the same.
  const fresh = new QueueMirror(config);
  fresh.load(
    step(no, 12_000, [], { ...open, draw: second }),
    [...waiting].sort((a, b) => a - b),
  );
  t.deepEqual(
    orderOf(
      fresh,
      Array.from({ length: 12_000 }, (_, i) => i + 1),
    ),
    expected2,
  );
});
