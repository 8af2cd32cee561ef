import test from 'ava';
import pg from 'pg';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine, settle, START } from './helpers/engines.js';

/**
 * Issuing at once reads `usher_active_bound()` instead of
 * counting the active tokens: the bound stored by issues at once plus what
 * steps admitted since, lowered only by a recount. It must never be below the
 * active tokens, or an issue at once could pass `maxActive`.
 */
const server = usePostgres(test);

/** A small deterministic generator, so a failure replays. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

test('the bound never falls below the active tokens, and maxActive holds, whatever issues, pays, ticks and time do on two engines', async (t) => {
  const url = await createDatabase(server());
  const config = {
    ...manual,
    queueMaxActive: 3,
    queueAdmitPerTick: 2,
    tokenActiveTtlMs: 60_000,
    queueWaitingTtlMs: 90_000,
    holdTtlMs: 50_000,
    maxHoldsPerUser: 1,
  };
  const a = await openEngine(t, url, { config });
  const b = await openEngine(t, url, { config, clock: a.clock, catalog: null });
  const engines = [a.engine, b.engine];
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  const seed = Number(process.env['ACTIVE_BOUND_SEED'] ?? Date.now() % 100_000);
  t.log(`seed ${seed} (ACTIVE_BOUND_SEED=${seed} replays it)`);
  const next = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const tokens = new Map<string, string>();
  let seat = 0;
  const bound = async () =>
    Number(
      (await client.query<{ bound: string }>('SELECT usher_active_bound() AS bound')).rows[0]!
        .bound,
    );
  /** Issues at once while the bound was at maxActive: each had to recount first. */
  let recounted = 0;
  for (let step = 0; step < 120; step++) {
    const engine = pick(engines);
    const roll = next();
    if (roll < 0.45) {
      // A burst of issues at once, across both engines.
      const users = Array.from(
        { length: 1 + Math.floor(next() * 4) },
        () => `u${Math.floor(next() * 5)}`,
      );
      const atBound = (await bound()) >= config.queueMaxActive;
      const issued = await Promise.all(
        users.map((user, i) => settle(engines[i % 2]!.issueToken(user))),
      );
      issued.forEach((result, i) => {
        if (!result.ok) return;
        tokens.set(users[i]!, result.value.token.token);
        if (atBound && result.value.created && result.value.token.status === 'active') recounted++;
      });
    } else if (roll < 0.7) {
      // Someone active pays for a seat: their token completes and leaves `active` without lowering the bound.
      const token = pick([...tokens.values(), 'none']);
      const hold = await settle(
        engine.reserve(token, { scheduleId: 's1', seatNo: (seat++ % 10) + 1 }),
      );
      if (hold.ok) {
        await engine.charge(token, { userId: hold.value.userId, amount: 1_000 });
        await settle(engine.pay(token, { reservationId: hold.value.id }));
      }
    } else if (roll < 0.85) {
      await engine.tick();
    } else {
      a.clock.increment(Math.floor(next() * 40_000));
    }
    const now = a.clock.now();
    const { rows } = await client.query<{ bound: string | null; active: string; live: string }>(
      `SELECT usher_active_bound() AS bound,
              (SELECT count(*) FROM tokens WHERE status = 'active') AS active,
              (SELECT count(*) FROM tokens WHERE status = 'active' AND expires_at > $1) AS live`,
      [now],
    );
    const { bound: stored, active, live } = rows[0]!;
    // NULL when the stored bound is too many steps old: the next issue at once counts.
    if (stored !== null)
      t.true(Number(stored) >= Number(active), `step ${step}: bound ${stored}, ${active} active`);
    t.true(Number(live) <= config.queueMaxActive, `step ${step}: ${live} live active tokens`);
  }
  // Most seeds also give places at once while the bound is at maxActive (after a recount); the next test always does.
  t.log(`${recounted} issued at once while the bound was at maxActive`);
});

test('at the bound, an issue at once recounts: places freed by payments are given again at once', async (t) => {
  const url = await createDatabase(server());
  const { engine } = await openEngine(t, url, {
    config: { ...manual, queueMaxActive: 2, tokenActiveTtlMs: 3_600_000 },
  });
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  const bound = async () =>
    Number(
      (await client.query<{ bound: string }>('SELECT usher_active_bound() AS bound')).rows[0]!
        .bound,
    );
  const ann = (await engine.issueToken('ann')).token;
  await engine.issueToken('bob');
  t.is(await bound(), 2);
  const hold = await engine.reserve(ann.token, { scheduleId: 's1', seatNo: 1 });
  await engine.charge(ann.token, { userId: 'ann', amount: 1_000 });
  await engine.pay(ann.token, { reservationId: hold.id });
  t.is(await bound(), 2, 'a payment leaves the bound as it is');
  const carol = await engine.issueToken('carol');
  t.is(carol.token.status, 'active', "ann's place is carol's at once");
  t.is(await bound(), 2, 'recounted (1), then raised by carol');
  t.is((await engine.issueToken('dave')).token.status, 'waiting', 'the room is full again');
});

test("a keeper step's admissions raise the bound: with more room (a larger maxActive), issues at once still stop at it", async (t) => {
  const url = await createDatabase(server());
  const small = await openEngine(t, url, { config: { ...manual, queueMaxActive: 2 } });
  // A second engine on the same database; the room's maxActive (a live setting, SPEC §9) is what counts, not its config.
  const large = (
    await openEngine(t, url, {
      config: { ...manual, queueMaxActive: 2 },
      clock: small.clock,
      catalog: null,
    })
  ).engine;
  const issued = await Promise.all(
    ['ann', 'bob', 'carol', 'dave'].map((user) => small.engine.issueToken(user)),
  );
  t.deepEqual(
    issued.map((answer) => answer.token.status),
    ['active', 'active', 'waiting', 'waiting'],
  );
  // The operator raises maxActive.
  await small.engine.updateRoom({ maxActive: 4 });
  t.is((await large.tick()).admitted, 2, 'the step fills the new room');
  t.is((await large.issueToken('erin')).token.status, 'waiting', 'no room left: erin waits');
  t.is((await large.stats()).activeTokens, 4);
});

test('an issue at once decided on a maxActive the room no longer has changes nothing: the engine decides again', async (t) => {
  const url = await createDatabase(server());
  const { engine } = await openEngine(t, url, { config: { ...manual, queueMaxActive: 10 } });
  await engine.issueToken('ann');
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  // An operator lowered maxActive to 1 after the issue's view read 10 (updateRoom writes under the step lock).
  await client.query('UPDATE room SET max_active = 1 WHERE id = 1');
  const { rows } = await client.query<{ err: string | null }>(
    `SELECT err FROM usher_issue_in_room_many($1::json)`,
    [
      JSON.stringify([
        {
          now: START,
          token: 't-bob',
          user_id: 'bob',
          status: 'active',
          issued_at: START,
          expires_at: START + 600_000,
          waiting_ttl: 300_000,
          max_active: 10,
          room: 'default',
        },
      ]),
    ],
  );
  t.deepEqual(rows, [{ err: 'UR409' }], 'refused: the room it was decided on has changed');
  const active = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM tokens WHERE status = 'active'`,
  );
  t.is(active.rows[0]!.n, 1, 'nobody admitted past the new maxActive');
  t.is(
    (await engine.issueToken('bob')).token.status,
    'waiting',
    'decided again on the room as it is: bob waits',
  );
});
