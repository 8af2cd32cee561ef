import { rejects } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';

behaviour(
  'finding 5: a spent proof-of-work solution is spent once, durably: again, or after a restart, it is refused until it expires',
  async (t, kit) => {
    const { engine: first, clock } = await kit.start({ onDisk: true });
    const expiresAt = clock.now() + 300_000;
    t.true(await first.spendChallenge('sig-1', expiresAt));
    t.false(await first.spendChallenge('sig-1', expiresAt), 'spent');
    t.true(await first.spendChallenge('sig-2', expiresAt + 60_000));
    const engine = await kit.restart();
    t.false(await engine.spendChallenge('sig-1', expiresAt), 'spent before the restart');
    // Forgotten once its challenge expired (a sweep), while a later one is kept.
    clock.increment(300_000);
    await engine.sweep();
    t.false(await engine.spendChallenge('sig-2', expiresAt + 60_000));
    for (const [id, at] of [
      ['', expiresAt],
      ['x'.repeat(129), expiresAt],
      ['sig-3', -1],
      ['sig-3', 1.5],
    ] as const)
      await rejects(t, engine.spendChallenge(id, at), 'VALIDATION_FAILED');
    t.deepEqual([...(await kit.durable()).spent], [['sig-2', { expiresAt: expiresAt + 60_000 }]]);
  },
);

behaviour('two spends of one solution at once: exactly one wins', async (t, kit) => {
  const { engine, clock } = await kit.start();
  const results = await Promise.all(
    Array.from({ length: 8 }, () => engine.spendChallenge('sig-race', clock.now() + 60_000)),
  );
  t.is(results.filter(Boolean).length, 1);
});
