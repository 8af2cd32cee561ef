import test from 'ava';
import fc from 'fast-check';
import { LineCounter } from '../src/LineCounter.js';

test('ranks, sizes and removals agree with a plain list, whatever the order of arrivals and departures', (t) => {
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
        const counter = new LineCounter();
        const model: number[] = [];
        let end = 0;
        for (const step of steps) {
          if ('arrive' in step) {
            for (let line = end + 1; line <= end + step.arrive; line++) model.push(line);
            end += step.arrive;
            counter.extendTo(end);
          } else if (model.length > 0) {
            // Mostly the head leaves (admission), sometimes someone in the middle (abandonment).
            const index = step.leave % 4 === 0 ? step.leave % model.length : 0;
            const [line] = model.splice(index, 1);
            if (!counter.remove(line!)) return false;
          }
          if (counter.size !== model.length || counter.end !== end) return false;
          for (const [i, line] of model.entries())
            if (i % 97 === 0 && counter.rank(line) !== i + 1) return false;
          if (model.length > 0 && counter.rank(model.at(-1)!) !== model.length) return false;
        }
        return true;
      },
    ),
    { numRuns: 200 },
  );
  t.pass();
});

test('a reset starts from the lines still in line; departed and unknown lines rank 0', (t) => {
  const counter = new LineCounter();
  counter.reset([5, 7, 9], 10);
  t.deepEqual(
    [
      counter.rank(5),
      counter.rank(7),
      counter.rank(9),
      counter.rank(10),
      counter.rank(6),
      counter.rank(11),
    ],
    [1, 2, 3, 0, 0, 0],
  );
  t.is(counter.size, 3);
  counter.extendTo(12);
  t.is(counter.rank(12), 5);
  t.false(counter.remove(6));
  t.true(counter.remove(5));
  t.is(counter.rank(12), 4);
});
