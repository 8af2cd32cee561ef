import test from 'ava';
import { EngineError, MemoryStore, type Change } from '@usher/engine';
import { activeToken, rejects, startEngine } from './helpers/fixture.js';

/** A store whose disk fails on demand. */
class FailingStore extends MemoryStore {
  failing = false;
  override append(changes: readonly Change[]): Promise<void> {
    return this.failing ? Promise.reject(new Error('EIO: disk gone')) : super.append(changes);
  }
}

test('when the store cannot make a change durable, the command is not acknowledged and the engine fails', async (t) => {
  const store = new FailingStore();
  const { engine } = await startEngine({
    store,
    config: { queueTickMs: 3_600_000, holdSweepMs: 3_600_000 },
  });
  const ann = await activeToken(engine, 'ann');
  store.failing = true;
  const error = await rejects(t, engine.charge(ann, { userId: 'ann', amount: 100 }), 'UNAVAILABLE');
  t.regex((error.cause as Error).message, /EIO/);
  t.deepEqual(engine.health, { status: 'failed', reason: 'EIO: disk gone' });
  t.is(await engine.whenFailed, error.cause as Error);
  store.failing = false;
  // Memory and disk may now differ: nothing more is answered until a restart restores from the store.
  await rejects(t, engine.getBalance(ann, 'ann'), 'UNAVAILABLE');
  await engine.close();
  t.is(engine.health.status, 'failed');
  const { engine: restarted } = await startEngine({ store, catalog: null });
  const again = await activeToken(restarted, 'ann');
  t.deepEqual(
    await restarted.getBalance(again, 'ann'),
    { userId: 'ann', balance: 0 },
    'the unacknowledged charge is not there',
  );
  t.true(error instanceof EngineError);
});
