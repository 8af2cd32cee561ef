import test from 'ava';
import { MemoryStore, type QueueToken } from '@usher/engine';
import { startEngine } from './helpers/fixture.js';

// The embedded engine's token watchers against a store that answers late. How
// watching behaves through the engine API, on every engine, is in
// packages/behaviour/test/watch.test.ts.

const manual = { queueTickMs: 3_600_000, holdSweepMs: 3_600_000 };

function recorder() {
  const updates: QueueToken[] = [];
  let ended = 0;
  return {
    updates,
    ended: () => ended,
    watcher: { update: (view: QueueToken) => updates.push(view), end: () => void ended++ },
  };
}

test('an update that arrives before the watch is answered is held back and sent after the initial view', async (t) => {
  // A store whose flush answers late (allowed: it only promises durability by the time it resolves),
  // so the tick's update reaches the engine before the watch's answer does.
  class LateFlushStore extends MemoryStore {
    release: () => void = () => undefined;
    late = false;
    override flush(): Promise<void> {
      return this.late ? new Promise((resolve) => (this.release = resolve)) : super.flush();
    }
  }
  const store = new LateFlushStore();
  const { engine, clock } = await startEngine({
    store,
    config: { ...manual, queueMaxActive: 1, tokenActiveTtlMs: 1_000 },
  });
  await engine.issueToken('ann');
  const bob = (await engine.issueToken('bob')).token.token;
  clock.increment(1_000);
  const watch = recorder();
  store.late = true;
  const watching = engine.watchToken(bob, watch.watcher);
  store.late = false;
  await engine.tick(); // admits bob; its update is delivered while the watch still waits
  t.deepEqual(watch.updates, [], 'nothing before the initial view');
  store.release();
  await watching;
  t.deepEqual(
    watch.updates.map((view) => view.status),
    ['waiting', 'active'],
  );
  t.is(watch.ended(), 1);
  t.is((await engine.stats()).watchedTokens, 0);
});
