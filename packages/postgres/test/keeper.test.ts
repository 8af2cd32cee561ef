import test from 'ava';
import { EngineError } from '@usher/engine';
import { createPostgresEngine } from '@usher/postgres';
import { startPostgres } from '@usher/testkit';
import { Database, until } from './processes/database.js';
import { EngineProcess } from './processes/engineProcess.js';

/**
 * SPEC §8 "One keeper" and §5.4–5: the keeper's process is SIGKILLed (twice);
 * another engine process takes over admission and expiry within a couple of
 * ticks, no hold outlives its deadline by more than a tick + 1 s, and the
 * number of active tokens never passes `maxActive` (sampled in the database
 * throughout).
 */
const TICK = 150;
const HOLD_TTL = 1_000;
const MAX_ACTIVE = 4;
const config = {
  queueTickMs: TICK,
  queueAdmitPerTick: 2,
  queueMaxActive: MAX_ACTIVE,
  // Short active periods keep tokens leaving, so there is always someone to admit.
  tokenActiveTtlMs: 700,
  queueWaitingTtlMs: 60_000,
  holdTtlMs: HOLD_TTL,
  // The sweep is far off: holds must expire by the keeper's ticks.
  holdSweepMs: 3_600_000,
  maxHoldsPerUser: 1,
};
const SEATS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("the keeper's process killed: another takes over within a couple of ticks, holds expire on time, maxActive is never exceeded", async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.remove());
  const db = new Database(server.connectionString);
  t.teardown(() => db.close());
  // The load comes from an engine in this process that never keeps (it only issues, polls and holds).
  const engine = await createPostgresEngine({
    connectionString: server.connectionString,
    config,
    keeper: false,
  });
  t.teardown(() => engine.close());
  await engine.loadCatalog({
    concerts: [{ id: 'c', title: 'Keeper' }],
    schedules: [
      { id: 'k', concertId: 'c', startsAt: '2027-01-01T19:00:00Z', totalSeats: SEATS, price: 100 },
    ],
  });

  const first = await EngineProcess.start({ connectionString: server.connectionString, config });
  t.teardown(() => first.stop());
  await until('the first process to be the keeper', 10_000, () => first.isKeeper(), 50);
  const others = await Promise.all([
    EngineProcess.start({ connectionString: server.connectionString, config }),
    EngineProcess.start({ connectionString: server.connectionString, config }),
  ]);
  t.teardown(() => Promise.all(others.map((proc) => proc.stop())));
  t.deepEqual(
    await Promise.all(others.map((proc) => proc.isKeeper())),
    [false, false],
    'one keeper at a time',
  );

  // Sampling the database: active tokens and overdue holds.
  let sampling = true;
  let samples = 0;
  let maxActive = 0;
  let maxOverdue = 0;
  const sampler = (async () => {
    while (sampling) {
      const before = Date.now();
      const [row] = await db.rows<{ active: string[]; held: string[] }>(
        `SELECT (SELECT coalesce(array_agg(expires_at), '{}') FROM tokens WHERE status = 'active') AS active,
                (SELECT coalesce(array_agg(expires_at), '{}') FROM reservations WHERE status = 'held') AS held`,
      );
      const after = Date.now();
      // Every decision this snapshot shows was made at a time <= after: tokens still active then are active at once.
      maxActive = Math.max(
        maxActive,
        row!.active.filter((expiresAt) => Number(expiresAt) > after).length,
      );
      // A hold still held in a snapshot taken after `before` has lived at least this long past its deadline.
      for (const expiresAt of row!.held)
        maxOverdue = Math.max(maxOverdue, before - Number(expiresAt));
      samples++;
      await sleep(20);
    }
  })();

  // The load: 12 users at a time, each waits for admission, holds a seat and leaves (the hold expires).
  let loading = true;
  let nextUser = 0;
  const holds: { id: string; expiresAt: number }[] = [];
  const loadErrors: string[] = [];
  async function user(): Promise<void> {
    const userId = `u${nextUser++}`;
    let view = (await engine.issueToken(userId)).token;
    while (view.status === 'waiting' && loading) {
      await sleep(50);
      view = await engine.getToken(view.token);
    }
    if (view.status !== 'active') return;
    for (let tries = 0; tries < 5; tries++) {
      try {
        const hold = await engine.reserve(view.token, {
          scheduleId: 'k',
          seatNo: 1 + Math.floor(Math.random() * SEATS),
        });
        holds.push({ id: hold.id, expiresAt: Date.parse(hold.expiresAt) });
        return;
      } catch (error) {
        if (!(error instanceof EngineError)) throw error;
        // Another user's seat, or the token ran out meanwhile (its active period is short).
        if (error.code === 'SEAT_UNAVAILABLE') continue;
        if (error.code !== 'TOKEN_INVALID') loadErrors.push(`${error.code}: ${error.message}`);
        return;
      }
    }
  }
  const load = Promise.all(
    Array.from({ length: 12 }, async () => {
      while (loading) await user();
    }),
  );

  const admittedSince = async (at: number) =>
    Number(
      (
        await db.rows<{ n: string }>(
          `SELECT coalesce(sum(admitted), 0) AS n FROM queue_ticks WHERE real AND at > $1`,
          [at],
        )
      )[0]!.n,
    );
  await sleep(2_000);
  t.true((await admittedSince(0)) > 0, 'the first keeper admits');

  let keeper = first;
  let survivors: EngineProcess[] = others;
  for (const round of [1, 2]) {
    await keeper.kill();
    // From when the process is gone: any scheduler tick after that is another process's (this one never
    // keeps and nobody calls tick()).
    const killedAt = Date.now();
    await until(
      'a scheduler tick after the kill',
      10_000,
      async () =>
        (await db.rows(`SELECT 1 FROM queue_ticks WHERE real AND at > $1`, [killedAt])).length > 0,
    );
    const [firstTick] = await db.rows<{ at: string }>(
      `SELECT min(at) AS at FROM queue_ticks WHERE real AND at > $1`,
      [killedAt],
    );
    const takeover = Number(firstTick!.at) - killedAt;
    await until(
      'admissions after the kill',
      10_000,
      async () => (await admittedSince(killedAt)) > 0,
    );
    const [firstAdmission] = await db.rows<{ at: string }>(
      `SELECT min(at) AS at FROM queue_ticks WHERE real AND admitted > 0 AND at > $1`,
      [killedAt],
    );
    const keepers = await Promise.all(survivors.map((proc) => proc.isKeeper()));
    t.is(keepers.filter(Boolean).length, 1, 'exactly one surviving process is the keeper');
    t.log(
      `round ${round}: the keeper (pid ${keeper.pid}) killed; the next ticked ${takeover} ms later and admitted ${Number(firstAdmission!.at) - killedAt} ms later`,
    );
    t.true(
      takeover <= 2 * TICK + 500,
      `another process took over within a couple of ticks (${takeover} ms)`,
    );
    keeper = survivors[keepers.indexOf(true)]!;
    survivors = survivors.filter((proc) => proc !== keeper);
    await sleep(2_000);
  }

  loading = false;
  await load;
  // Every hold placed is past its deadline + a tick + 1 s: each must have expired.
  const last = Math.max(...holds.map((hold) => hold.expiresAt));
  await sleep(Math.max(0, last + TICK + 1_000 - Date.now()) + 100);
  sampling = false;
  await sampler;
  const stillHeld = await db.rows(`SELECT id, expires_at FROM reservations WHERE status = 'held'`);
  t.deepEqual(stillHeld, [], 'every hold expired');
  const [expired] = await db.rows<{ n: number }>(
    `SELECT count(*)::int AS n FROM reservations WHERE status = 'expired' AND id = ANY($1)`,
    [holds.map((hold) => hold.id)],
  );
  t.is(expired!.n, holds.length, 'the holds expired (none was paid or cancelled)');

  t.log(
    `${samples} samples; ${nextUser} users, ${holds.length} holds; at most ${maxActive} active tokens; a hold outlived its deadline by at most ${maxOverdue} ms`,
  );
  t.deepEqual(loadErrors, []);
  t.true(holds.length >= 10, 'seats were held throughout');
  t.true(maxActive <= MAX_ACTIVE, `maxActive (${MAX_ACTIVE}) never exceeded: saw ${maxActive}`);
  t.true(maxActive > 0);
  t.true(
    maxOverdue <= TICK + 1_000,
    `no hold outlived its deadline by more than a tick + 1 s: ${maxOverdue} ms`,
  );
});
