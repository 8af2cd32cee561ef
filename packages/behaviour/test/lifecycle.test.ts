import { behaviour } from './helpers/engines.js';
import { rejects } from '@usher/testkit';

behaviour(
  'health is ok, then closing once close() starts; commands after close are SHUTTING_DOWN; whenFailed stays pending on a normal close',
  async (t, kit) => {
    const { engine } = await kit.start();
    t.deepEqual(engine.health, { status: 'ok' });
    let failed = false;
    void engine.whenFailed.then(() => (failed = true));
    const closing = engine.close();
    t.deepEqual(engine.health, { status: 'closing' });
    await closing;
    await rejects(t, engine.stats(), 'SHUTTING_DOWN');
    await engine.close();
    await new Promise((resolve) => setImmediate(resolve));
    t.false(failed);
  },
);
