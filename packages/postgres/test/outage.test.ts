import test from 'ava';
import { EngineError, type Payment, type Reservation, type Wallet } from '@usher/engine';
import { createPostgresEngine } from '@usher/postgres';
import { startPostgres } from '@usher/testkit';
import { assertInvariants, Database, until } from './processes/database.js';

/**
 * SPEC §8 "Failure": PostgreSQL crashes (`pg_ctl -m immediate`) under a
 * stream of commands from one engine, stays down, and comes back. While it is
 * down every command answers `UNAVAILABLE`, quickly; what was acknowledged
 * survives; what was refused changed nothing; the same engine instance works
 * again once the server is back, keeper included.
 */

/** One try of one command, as the load saw it (wall-clock ms). */
interface Attempt {
  readonly user: string;
  readonly kind: 'charge' | 'reserve' | 'pay';
  readonly key?: string;
  readonly amount?: number;
  readonly reservationId?: string;
  readonly started: number;
  ended: number;
  code?: string;
  value?: unknown;
}

const USERS = 12;
const PRICE = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('PostgreSQL crashed under load and started again: UNAVAILABLE while down, nothing acknowledged lost, nothing refused applied, the engine recovers by itself', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.remove());
  const db = new Database(server.connectionString);
  t.teardown(() => db.close());
  // The wall clock and the keeper's timers: the outage is real time, and the keeper must come back by itself.
  const engine = await createPostgresEngine({
    connectionString: server.connectionString,
    config: {
      queueTickMs: 100,
      queueMaxActive: 100,
      tokenActiveTtlMs: 600_000,
      maxHoldsPerUser: 4,
      maxTicketsPerUser: 10_000,
    },
  });
  t.teardown(() => engine.close());
  await engine.loadCatalog({
    concerts: [{ id: 'c', title: 'Outage' }],
    schedules: [
      {
        id: 'o',
        concertId: 'c',
        startsAt: '2027-01-01T19:00:00Z',
        totalSeats: 20_000,
        price: PRICE,
      },
    ],
  });
  let nextSeat = 1;
  const users = Array.from({ length: USERS }, (_, i) => `u${i}`);
  const tokens = new Map<string, string>();
  const setupHolds = new Set<string>();
  for (const user of users) {
    const { token } = await engine.issueToken(user);
    t.is(token.status, 'active');
    tokens.set(user, token.token);
    // A hold that is never paid: paying the others never completes the token, so it serves the whole test.
    setupHolds.add((await engine.reserve(token.token, { scheduleId: 'o', seatNo: nextSeat++ })).id);
  }

  const attempts: Attempt[] = [];
  let stopping = false;
  let counter = 0;
  async function attempt(
    base: Omit<Attempt, 'started' | 'ended'>,
    command: () => Promise<unknown>,
  ): Promise<Attempt> {
    const record: Attempt = { ...base, started: Date.now(), ended: 0 };
    attempts.push(record);
    try {
      record.value = await command();
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      record.code = error.code;
    }
    record.ended = Date.now();
    return record;
  }
  // Each user: charge, hold, pay, over and over, one command at a time. A refused charge is given up (its
  // key must stay unapplied); a refused hold is tried again on another seat; a refused payment is tried
  // again under the same key until it is answered (after a new charge, when the balance was too low).
  async function load(user: string): Promise<void> {
    const token = tokens.get(user)!;
    const charge = () => {
      const key = `charge-${user}-${counter++}`;
      return attempt({ user, kind: 'charge', key, amount: PRICE }, () =>
        engine.charge(token, { userId: user, amount: PRICE }, { idempotencyKey: key }),
      );
    };
    while (!stopping) {
      await charge();
      let hold: Reservation | undefined;
      while (!stopping && !hold) {
        const tried = await attempt({ user, kind: 'reserve' }, () =>
          engine.reserve(token, { scheduleId: 'o', seatNo: nextSeat++ }),
        );
        if (tried.code === undefined) hold = tried.value as Reservation;
        else await sleep(50);
      }
      for (let paid = false; hold && !paid;) {
        const tried = await attempt(
          { user, kind: 'pay', key: `pay-${hold.id}`, reservationId: hold.id },
          () =>
            engine.pay(token, { reservationId: hold!.id }, { idempotencyKey: `pay-${hold!.id}` }),
        );
        paid = tried.code === undefined || stopping;
        // A balance too low means a charge was refused: charge again first.
        if (tried.code === 'INSUFFICIENT_BALANCE') await charge();
        if (tried.code === 'UNAVAILABLE') await sleep(50);
      }
    }
  }
  const loads = users.map(load);
  const acked = () => attempts.filter((a) => a.code === undefined && a.ended > 0).length;
  await until('100 acknowledged commands', 20_000, () => acked() >= 100);

  const crashAt = Date.now();
  await server.stop('immediate');
  const downAt = Date.now();
  await sleep(2_000);
  t.deepEqual(
    engine.health,
    { status: 'ok' },
    'an unreachable database is not a failure of the engine',
  );
  const startAt = Date.now();
  await server.start();
  const upAt = Date.now();
  t.log(
    `crash took ${downAt - crashAt} ms, down for ${startAt - downAt} ms, start took ${upAt - startAt} ms; ${acked()} acknowledged before the start`,
  );

  // Recovery without a new engine: every user's commands are answered again, and the keeper ticks again.
  await until('every user acknowledged again', 20_000, () =>
    users.every((user) =>
      attempts.some((a) => a.user === user && a.started >= upAt && a.code === undefined),
    ),
  );
  const recoveredIn =
    Math.max(
      ...users.map(
        (user) =>
          attempts.find((a) => a.user === user && a.started >= upAt && a.code === undefined)!.ended,
      ),
    ) - upAt;
  await until(
    'the keeper ticking again',
    20_000,
    async () =>
      engine.isKeeper &&
      (await db.rows(`SELECT 1 FROM queue_ticks WHERE at > $1 AND real`, [upAt])).length > 0,
  );
  await sleep(500);
  stopping = true;
  await Promise.all(loads);
  t.log(
    `${attempts.length} commands, ${acked()} acknowledged; every user served again ${recoveredIn} ms after the start`,
  );

  // While down: UNAVAILABLE only, and never a hang.
  const refused = attempts.filter((a) => a.code !== undefined);
  t.deepEqual(
    [...new Set(refused.map((a) => a.code))].filter(
      (code) => code !== 'UNAVAILABLE' && code !== 'INSUFFICIENT_BALANCE',
    ),
    [],
    'refusals are UNAVAILABLE',
  );
  t.true(refused.filter((a) => a.code === 'INSUFFICIENT_BALANCE').every((a) => a.kind === 'pay'));
  const whileDown = attempts.filter((a) => a.started >= downAt && a.ended < startAt);
  t.true(
    whileDown.length >= USERS,
    `commands were tried while the server was down (${whileDown.length})`,
  );
  t.deepEqual(
    whileDown.filter((a) => a.code !== 'UNAVAILABLE'),
    [],
    'every command tried while the server was down answered UNAVAILABLE',
  );
  const slowest = Math.max(...attempts.map((a) => a.ended - a.started));
  const slowestDown = Math.max(
    ...attempts
      .filter((a) => a.ended >= crashAt && a.started < upAt)
      .map((a) => a.ended - a.started),
  );
  t.log(`slowest answer ${slowest} ms; slowest around the outage ${slowestDown} ms`);
  t.true(slowest <= 6_000, `no command hangs past a few seconds (slowest: ${slowest} ms)`);

  // Refused commands changed nothing: no row carries a time from when the server was down.
  const written = await db.rows(
    `SELECT 'reservation' AS what, id FROM reservations WHERE created_at >= $1 AND created_at < $2
     UNION ALL SELECT 'reservation ended', id FROM reservations WHERE ended_at >= $1 AND ended_at < $2
     UNION ALL SELECT 'payment', id FROM payments WHERE created_at >= $1 AND created_at < $2
     UNION ALL SELECT 'key', key FROM idempotency_keys WHERE created_at >= $1 AND created_at < $2
     UNION ALL SELECT 'step', no::text FROM queue_ticks WHERE at >= $1 AND at < $2`,
    [downAt, startAt],
  );
  t.deepEqual(written, [], 'nothing was written by a command started while the server was down');
  const refusedKeys = new Set(
    attempts
      .filter((a) => a.kind === 'charge' && a.code !== undefined && a.started >= downAt)
      .map((a) => a.key),
  );
  const present = await db.rows<{ key: string }>(
    `SELECT key FROM idempotency_keys WHERE key = ANY($1)`,
    [[...refusedKeys]],
  );
  t.deepEqual(present, [], 'no charge refused after the crash was applied');

  // A charge in flight at the crash may or may not have committed; retried under its key it is answered
  // and applied once. So are the payments still unanswered. Then everything tried is acknowledged.
  const inFlight = attempts.filter((a) => a.code === 'UNAVAILABLE' && a.started < downAt);
  t.log(
    `${inFlight.length} commands were refused that began before the server was down (in flight at the crash, or tried while it went down)`,
  );
  for (const a of attempts.filter((a) => a.kind === 'charge' && a.code !== undefined)) {
    const wallet = await engine.charge(
      tokens.get(a.user)!,
      { userId: a.user, amount: PRICE },
      { idempotencyKey: a.key! },
    );
    t.is(wallet.userId, a.user);
    delete a.code;
  }
  const paidFor = new Map<string, Payment>();
  for (const a of attempts)
    if (a.kind === 'pay' && a.code === undefined) paidFor.set(a.reservationId!, a.value as Payment);
  for (const a of attempts.filter(
    (a) => a.kind === 'pay' && a.code !== undefined && !paidFor.has(a.reservationId!),
  )) {
    try {
      paidFor.set(
        a.reservationId!,
        await engine.pay(
          tokens.get(a.user)!,
          { reservationId: a.reservationId! },
          { idempotencyKey: a.key! },
        ),
      );
    } catch (error) {
      // Never paid: a balance too low at its last try, and still.
      t.is((error as EngineError).code, 'INSUFFICIENT_BALANCE');
    }
  }

  const wallets = await assertInvariants(t, db);
  const chargedKeys = attempts.filter((a) => a.kind === 'charge');
  for (const user of users) {
    const charged = chargedKeys.filter((a) => a.user === user).length * PRICE;
    const paid = [...paidFor.values()]
      .filter((payment) => payment.userId === user)
      .reduce((sum, payment) => sum + payment.amount, 0);
    t.like(
      wallets.get(user),
      { charged, paid, balance: charged - paid },
      `wallet of ${user}: every charge once, every payment once`,
    );
    t.deepEqual(await engine.getBalance(tokens.get(user)!, user), {
      userId: user,
      balance: charged - paid,
    } satisfies Wallet);
  }
  const keys = await db.rows<{ key: string }>(
    `SELECT key FROM idempotency_keys WHERE key LIKE 'charge-%'`,
  );
  t.deepEqual(
    keys.map((row) => row.key).sort(),
    chargedKeys.map((a) => a.key!).sort(),
    'the charges in the database are exactly the acknowledged ones',
  );
  const payments = await db.rows<{ id: string }>(`SELECT id FROM payments`);
  t.deepEqual(
    payments.map((row) => row.id).sort(),
    [...paidFor.values()].map((payment) => payment.id).sort(),
    'the payments in the database are exactly the acknowledged ones',
  );
  // Every acknowledged hold is there; a hold not acknowledged can only be one in flight at the crash.
  const holds = await db.rows<{ id: string; user_id: string; created_at: string }>(
    `SELECT id, user_id, created_at FROM reservations`,
  );
  const ackedHolds = new Set(
    attempts
      .filter((a) => a.kind === 'reserve' && a.code === undefined)
      .map((a) => (a.value as Reservation).id),
  );
  t.true(
    [...ackedHolds].every((id) => holds.some((row) => row.id === id)),
    'every acknowledged hold is in the database',
  );
  const unanswered = holds.filter((row) => !ackedHolds.has(row.id) && !setupHolds.has(row.id));
  for (const row of unanswered) {
    t.true(
      Number(row.created_at) < downAt,
      `hold ${row.id} was not acknowledged, yet made at ${row.created_at}`,
    );
    t.true(
      inFlight.some((a) => a.kind === 'reserve' && a.user === row.user_id),
      `hold ${row.id} of ${row.user_id} was not acknowledged and no hold of theirs was in flight at the crash`,
    );
  }
});
