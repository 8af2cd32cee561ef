import test from 'ava';
import fc from 'fast-check';
import { WaitingLine } from '../src/queue/WaitingLine.js';
import { RecencyList, type RecencyNode } from '../src/queue/RecencyList.js';
import { DeadlineHeap } from '../src/timers/DeadlineHeap.js';

test('a waiting line ranks, removes and shifts in FIFO order', (t) => {
  const line = new WaitingLine<string>();
  const ann = line.push('ann');
  const bob = line.push('bob');
  const cat = line.push('cat');
  t.deepEqual([line.rank(ann), line.rank(bob), line.rank(cat)], [1, 2, 3]);
  t.true(line.remove(bob));
  t.false(line.remove(bob));
  t.is(line.rank(bob), 0);
  t.is(line.rank(cat), 2);
  t.is(line.shift(), 'ann');
  t.is(line.rank(cat), 1);
  t.is(line.shift(), 'cat');
  t.is(line.shift(), undefined);
  t.is(line.size, 0);
});

test('a waiting line agrees with a plain array under random pushes, removals and shifts', (t) => {
  t.notThrows(() => agreesWithModel(), 'ranks matched the model at every step');
});

function agreesWithModel(): void {
  const op = fc.oneof(
    fc.constant({ kind: 'push' as const }),
    fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ kind: fc.constant('burst' as const), count: fc.integer({ min: 1, max: 5000 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const line = new WaitingLine<number>();
      const model: number[] = [];
      for (const step of ops) {
        if (step.kind === 'push') model.push(line.push(model.length));
        else if (step.kind === 'burst')
          for (let i = 0; i < step.count; i++) model.push(line.push(i));
        else if (step.kind === 'remove' && model.length > 0) {
          const [seq] = model.splice(step.pick % model.length, 1);
          if (!line.remove(seq!)) return false;
        } else if (step.kind === 'shift') {
          for (let i = 0; i < step.count && model.length > 0; i++) {
            const expected = model.shift()!;
            if (line.rank(expected) !== 1) return false;
            line.shift();
          }
        }
        if (line.size !== model.length) return false;
        for (let i = 0; i < model.length; i += Math.max(1, model.length >> 4)) {
          if (line.rank(model[i]!) !== i + 1) return false;
        }
      }
      return true;
    }),
    { numRuns: 60 },
  );
}

test('a waiting line restored with gaps keeps the order of its sequence numbers', (t) => {
  const line = new WaitingLine<string>();
  line.push('a', 100);
  line.push('b', 250);
  line.push('c', 251);
  t.is(line.rank(250), 2);
  t.is(line.nextSeq, 252);
  t.throws(() => line.push('late', 200), { instanceOf: RangeError });
  t.is(line.shift(), 'a');
  t.is(line.rank(251), 2);
});

test("a line numbered densely (a PostgreSQL engine's mirror) ranks and sizes as a plain list, whatever arrives and leaves", (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ arrive: fc.integer({ min: 1, max: 3_000 }) }),
            fc.record({ leave: fc.nat() }),
          ),
          { maxLength: 200 },
        ),
        (steps) => {
          const line = new WaitingLine<true>();
          line.reset([], 0, () => true);
          const model: number[] = [];
          let end = 0;
          for (const step of steps) {
            if ('arrive' in step) {
              for (let seq = end + 1; seq <= end + step.arrive; seq++) model.push(seq);
              end += step.arrive;
              line.extendTo(end, true);
            } else if (model.length > 0) {
              // Mostly the head leaves (admission), sometimes someone in the middle (abandonment).
              const index = step.leave % 4 === 0 ? step.leave % model.length : 0;
              const [seq] = model.splice(index, 1);
              if (!line.remove(seq!)) return false;
            }
            if (line.size !== model.length || line.end !== end) return false;
            for (const [i, seq] of model.entries())
              if (i % 97 === 0 && line.rank(seq) !== i + 1) return false;
            if (model.length > 0 && line.rank(model.at(-1)!) !== model.length) return false;
          }
          return true;
        },
      ),
      { numRuns: 200 },
    ),
  );
});

test('a reset starts from those still in line; departed and unknown numbers rank 0; a permutation moves them', (t) => {
  const line = new WaitingLine<string>();
  line.reset([5, 7, 9], 10, (i) => ['e', 'g', 'i'][i]!);
  t.deepEqual(
    [5, 7, 9, 10, 6, 11].map((seq) => line.rank(seq)),
    [1, 2, 3, 0, 0, 0],
  );
  t.is(line.size, 3);
  t.is(line.end, 10);
  line.extendTo(12, 'x');
  t.is(line.rank(12), 5);
  t.false(line.remove(6));
  t.true(line.remove(5));
  t.is(line.rank(12), 4);
  // 7..9 drawn in reverse: 9 first.
  line.permute(7, 9, (seq) => 16 - seq);
  t.deepEqual([...line.values()], ['i', 'g', 'x', 'x']);
  t.deepEqual(
    [7, 9, 11, 12].map((seq) => line.rank(seq)),
    [1, 2, 3, 4],
  );
  t.is(line.end, 12);
});

test('the deadline heap pops due items in deadline order and nothing early', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000 }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 1_000 }),
        (ats, now) => {
          const heap = new DeadlineHeap<number>();
          for (const at of ats) heap.push(at, at);
          const popped: number[] = [];
          for (let at = heap.popDue(now); at !== undefined; at = heap.popDue(now)) popped.push(at);
          const expected = ats.filter((at) => at <= now).sort((a, b) => a - b);
          return (
            JSON.stringify(popped) === JSON.stringify(expected) &&
            heap.size === ats.length - expected.length
          );
        },
      ),
    ),
  );
  t.is(new DeadlineHeap().peekAt(), Infinity);
});

interface Node extends RecencyNode<Node> {
  readonly name: string;
}

test('a recency list keeps nodes from least to most recently touched', (t) => {
  const list = new RecencyList<Node>();
  const [a, b, c] = ['a', 'b', 'c'].map((name): Node => ({ name, older: null, newer: null }));
  list.append(a!);
  list.append(b!);
  list.append(c!);
  list.touch(a!);
  t.is(list.oldest?.name, 'b');
  list.remove(b!);
  t.is(list.oldest?.name, 'c');
  list.touch(a!);
  t.is(list.oldest?.name, 'c');
  list.remove(c!);
  list.remove(a!);
  t.is(list.oldest, null);
  t.is(list.size, 0);
});
