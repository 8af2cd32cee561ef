import test from 'ava';
import { createPostgresEngine } from '@usher/postgres';
import { startPostgres } from '@usher/testkit';
import { activeToken, catalog, manual, rejects, simulatedClock } from './helpers/engines.js';

test('while PostgreSQL is down commands answer UNAVAILABLE; when it is back they work again, without a restart', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.remove());
  const clock = simulatedClock();
  const config = { ...manual, queueMaxActive: 2, tokenActiveTtlMs: 60_000 };
  const engine = await createPostgresEngine({
    connectionString: server.connectionString,
    clock,
    config,
  });
  t.teardown(() => engine.close());
  await engine.loadCatalog(catalog);
  const ann = await activeToken(engine, 'ann');
  await engine.charge(ann, { userId: 'ann', amount: 1_000 }, { idempotencyKey: 'before' });

  await server.stop('immediate');
  await rejects(
    t,
    engine.charge(ann, { userId: 'ann', amount: 1_000 }, { idempotencyKey: 'during' }),
    'UNAVAILABLE',
  );
  await rejects(t, engine.getToken(ann), 'UNAVAILABLE');
  await rejects(t, engine.issueToken('bob'), 'UNAVAILABLE');
  t.deepEqual(
    engine.health,
    { status: 'ok' },
    'an unreachable database is not a failure of the engine',
  );

  await server.start();
  t.deepEqual(
    await engine.getBalance(ann, 'ann'),
    { userId: 'ann', balance: 1_000 },
    'acknowledged before the crash, kept; refused during it, not applied',
  );
  t.deepEqual(
    await engine.charge(ann, { userId: 'ann', amount: 1_000 }, { idempotencyKey: 'during' }),
    { userId: 'ann', balance: 2_000 },
  );
  t.is((await engine.issueToken('bob')).created, true);
  const cat = (await engine.issueToken('cat')).token;
  t.is(cat.status, 'waiting');

  // The LISTEN connection came back by itself: a tick on another engine reaches this one's watcher.
  const positions: (number | null)[] = [];
  await engine.watchToken(cat.token, {
    update: (view) => positions.push(view.position),
    end: () => undefined,
  });
  const other = await createPostgresEngine({
    connectionString: server.connectionString,
    clock,
    config,
  });
  t.teardown(() => other.close());
  clock.increment(60_000);
  t.like(await other.tick(), { admitted: 1, active: 1 });
  for (let i = 0; i < 300 && positions.at(-1) !== 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(positions, [1, 0]);
});

test('createPostgresEngine refuses with UNAVAILABLE when PostgreSQL cannot be reached', async (t) => {
  const server = await startPostgres();
  const url = server.connectionString;
  await server.remove();
  const error = await t.throwsAsync(createPostgresEngine({ connectionString: url }));
  t.is((error as { code?: string }).code, 'UNAVAILABLE');
});
