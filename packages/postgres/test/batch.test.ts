import test from 'ava';
import { Batcher, Slots, type Outcome } from '../src/batch.js';

/** A run function whose batches the test releases by hand. */
function controlled<I>() {
  const batches: { items: readonly I[]; finish: (outcomes: Outcome<string>[] | Error) => void }[] =
    [];
  const run = (items: readonly I[]) =>
    new Promise<readonly Outcome<string>[]>((resolve, reject) => {
      batches.push({
        items,
        finish: (outcomes) => (outcomes instanceof Error ? reject(outcomes) : resolve(outcomes)),
      });
    });
  return { batches, run };
}

const ok = (value: string): Outcome<string> => ({ ok: true, value });
const settled = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error: (error as Error).message }),
  );
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('items submitted while the batches run wait for the next batch, each answered with its own outcome', async (t) => {
  const { batches, run } = controlled<number>();
  const batcher = new Batcher(run, { concurrency: 1, max: 100, slots: new Slots(4) });
  const first = settled(batcher.submit(1));
  await tick();
  const rest = [2, 3, 4].map((i) => settled(batcher.submit(i)));
  await tick();
  t.deepEqual(
    batches.map((batch) => batch.items),
    [[1]],
    'an idle batcher runs an item alone, at the end of the turn it came in',
  );
  batches[0]!.finish([ok('one')]);
  await tick();
  t.deepEqual(
    batches.map((batch) => batch.items),
    [[1], [2, 3, 4]],
    'what arrived meanwhile goes in one batch',
  );
  batches[1]!.finish([ok('two'), { ok: false, error: new Error('three failed') }, ok('four')]);
  t.deepEqual(await Promise.all([first, ...rest]), [
    { value: 'one' },
    { value: 'two' },
    { error: 'three failed' },
    { value: 'four' },
  ]);
});

test('a batch that throws fails its own items only; at most `concurrency` batches of `max` items run, each holding a slot', async (t) => {
  const { batches, run } = controlled<number>();
  const log: string[] = [];
  const slots = new Slots(2);
  const batcher = new Batcher(
    (items: readonly number[]) => {
      log.push(`batch ${items.join(',')}`);
      return run(items);
    },
    { concurrency: 2, max: 2, slots },
  );
  const answers = [settled(batcher.submit(1))];
  await tick();
  answers.push(...[2, 3, 4, 5, 6, 7].map((i) => settled(batcher.submit(i))));
  await tick();
  t.deepEqual(
    batches.map((batch) => batch.items),
    [[1], [2, 3]],
    'two batches at once, the second as large as allowed',
  );
  // Both slots are taken: other work waits for one, and gets the first freed.
  void slots.with(async () => {
    log.push('other');
  });
  await tick();
  t.deepEqual(log, ['batch 1', 'batch 2,3']);
  batches[0]!.finish(new Error('lost connection'));
  await tick();
  t.deepEqual(
    log,
    ['batch 1', 'batch 2,3', 'other', 'batch 4,5'],
    'the freed slot went to the work that waited first',
  );
  batches[1]!.finish([ok('two'), ok('three')]);
  batches[2]!.finish([ok('four'), ok('five')]);
  await tick();
  t.deepEqual(batches.at(-1)!.items, [6, 7]);
  batches.at(-1)!.finish([ok('six'), ok('seven')]);
  t.deepEqual(await Promise.all(answers), [
    { error: 'lost connection' },
    { value: 'two' },
    { value: 'three' },
    { value: 'four' },
    { value: 'five' },
    { value: 'six' },
    { value: 'seven' },
  ]);
});

test('items that come in one turn of the event loop share a batch, though the first came a few promise hops before the rest', async (t) => {
  const { batches, run } = controlled<number>();
  const batcher = new Batcher(run, { concurrency: 2, max: 100, slots: new Slots(4) });
  // As a server reads several requests in one turn: each handler reaches the engine after a few awaits of its own.
  const answers = [settled(batcher.submit(1))];
  for (let hop = 0; hop < 5; hop++) await Promise.resolve();
  answers.push(settled(batcher.submit(2)), settled(batcher.submit(3)));
  await tick();
  t.deepEqual(
    batches.map((batch) => batch.items),
    [[1, 2, 3]],
    'one round trip for the turn',
  );
  batches[0]!.finish([ok('one'), ok('two'), ok('three')]);
  t.deepEqual(await Promise.all(answers), [{ value: 'one' }, { value: 'two' }, { value: 'three' }]);
});

test('a batch refused as a whole, with an error that left nothing done, splits until the bad item fails alone', async (t) => {
  const runs: number[][] = [];
  const bad = new Error('invalid byte sequence for encoding "UTF8": 0x00');
  const lost = new Error('Connection terminated unexpectedly');
  const batcher = new Batcher(
    async (items: readonly number[]) => {
      runs.push([...items]);
      if (items.includes(0)) throw items.length > 1 || items[0] === 0 ? bad : lost;
      if (items.includes(-1)) throw lost;
      return items.map((item) => ok(String(item)));
    },
    { concurrency: 1, max: 100, slots: new Slots(1), isolate: (error) => error === bad },
  );
  const answers = [1, 2, 0, 3, 4].map((item) => settled(batcher.submit(item)));
  t.deepEqual(await Promise.all(answers), [
    { value: '1' },
    { value: '2' },
    { error: bad.message },
    { value: '3' },
    { value: '4' },
  ]);
  t.deepEqual(runs, [[1, 2, 0, 3, 4], [1, 2, 0], [1, 2], [0], [3, 4]], 'halves, not one by one');
  // An error that may have left something done (a lost connection: a commit's answer may be lost) is not retried.
  runs.length = 0;
  const failed = [5, -1, 6].map((item) => settled(batcher.submit(item)));
  t.deepEqual(await Promise.all(failed), [
    { error: lost.message },
    { error: lost.message },
    { error: lost.message },
  ]);
  t.deepEqual(runs, [[5, -1, 6]]);
});
