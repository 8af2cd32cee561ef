import test from 'ava';
import { userIdProblem } from '@usher/engine';
import { createDatabase, usePostgres } from '@usher/testkit';
import { activeToken, catalog, manual, openEngine, rejects } from './helpers/engines.js';

/**
 * Text PostgreSQL cannot hold (a NUL, an unpaired surrogate) is refused with
 * `VALIDATION_FAILED` where it would be stored, before any SQL runs (it was a
 * 500, and `"\ud800"` and `"\ufffd"` were one user); looked up, it is an
 * unknown id (see the behaviour suite's oddIds). In a user id it is the user
 * id rule that refuses it, as the embedded engine does (the behaviour suite's
 * userIds).
 */
const server = usePostgres(test);

test('a user id, an idempotency key or a catalog entry PostgreSQL cannot store is VALIDATION_FAILED, and stores nothing', async (t) => {
  const { engine } = await openEngine(t, await createDatabase(server()), { config: manual });
  for (const userId of ['a\u0000b', 'a\ud800', '\udfff']) {
    const error = await rejects(t, engine.issueToken(userId), 'VALIDATION_FAILED');
    t.is(error.message, `userId ${userIdProblem(userId)}`, "in the user id rule's words");
  }
  // U+FFFD is an ordinary character: its user is not the one of an unpaired surrogate.
  t.true((await engine.issueToken('\ufffd')).created);
  await rejects(t, engine.issueToken('\ud800'), 'VALIDATION_FAILED');
  const ann = await activeToken(engine, 'ann');
  await rejects(
    t,
    engine.charge(ann, { userId: 'ann', amount: 5 }, { idempotencyKey: 'k\u0000' }),
    'VALIDATION_FAILED',
  );
  t.is((await engine.getBalance(ann, 'ann')).balance, 0);
  await rejects(
    t,
    engine.loadCatalog({
      concerts: [{ id: 'c9', title: 'odd \ud83d' }],
      schedules: [],
    }),
    'VALIDATION_FAILED',
  );
  t.deepEqual(
    (await engine.listConcerts(ann)).map((concert) => concert.id),
    catalog.concerts.map((concert) => concert.id),
  );
  t.is((await engine.stats()).activeTokens, 2);
});
