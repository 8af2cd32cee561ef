import test, { type ExecutionContext } from 'ava';
import {
  invariantViolations,
  isEngineError,
  type CatalogInput,
  type Reservation,
  type UsherEngine,
  type WaitlistEntry,
} from '@usher/engine';
import pg from 'pg';
import { createPostgresEngine, migrate, migrations, readContents } from '@usher/postgres';
import { createDatabase, startPostgres, usePostgres } from '@usher/testkit';
import {
  activeToken,
  manual,
  openEngine,
  rejects,
  simulatedClock,
  START,
} from './helpers/engines.js';

/**
 * The waitlist on PostgreSQL (SPEC §11, migration 9), where the behaviour
 * suite cannot reach: several engines on one database (two gateways), the
 * keeper's failover, and a crash of PostgreSQL itself. Seats freed on one
 * gateway are offered in the freeing transaction and pushed to watchers on
 * any gateway; no seat is offered twice.
 */
const server = usePostgres(test);

const config = { ...manual, maxTicketsPerUser: 10, maxHoldsPerUser: 10, queueMaxActive: 1_000 };

/** A sold-out date of `seats` seats (1,000 each). */
const small = (seats: number): CatalogInput => ({
  concerts: [{ id: 'c1', title: 'Small' }],
  schedules: [
    { id: 'w', concertId: 'c1', startsAt: '2027-05-01T19:00:00Z', totalSeats: seats, price: 1_000 },
  ],
});

/** A paid order of `seatNos` of w by `user` on `engine`: its tickets, ascending by seat. */
async function paidTickets(engine: UsherEngine, seatNos: readonly number[], user = 'ann') {
  const token = await activeToken(engine, user);
  await engine.charge(token, { userId: user, amount: 100_000 });
  const order = await engine.reserve(token, { scheduleId: 'w', seatNos: [...seatNos] });
  await engine.pay(token, { reservationId: order.id });
  const tickets = (await engine.listTickets(user)).filter((t) => t.reservationId === order.id);
  return [...tickets].sort((a, b) => a.seatNo - b.seatNo);
}

async function twoGateways(t: ExecutionContext, seats: number) {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const a = await openEngine(t, url, { config, clock, catalog: small(seats) });
  const b = await openEngine(t, url, { config, clock, catalog: null, keeper: false });
  return { url, a: a.engine, b: b.engine, clock };
}

/** What a watcher was told, in order. */
function recorder() {
  const told: ({ entry: WaitlistEntry | undefined } | { reservation: Reservation })[] = [];
  const waiters: (() => void)[] = [];
  const watcher = {
    entry(entry: WaitlistEntry | undefined) {
      told.push({ entry });
      for (const wake of waiters.splice(0)) wake();
    },
    reservation(reservation: Reservation) {
      told.push({ reservation });
      for (const wake of waiters.splice(0)) wake();
    },
  };
  const until = async (done: () => boolean, ms = 5_000) => {
    const end = Date.now() + ms;
    while (!done()) {
      if (Date.now() > end) throw new Error(`not told in time: ${JSON.stringify(told)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { told, watcher, until };
}

test('a refund on gateway A offers the seat to the first waiting user, whose watcher is on gateway B', async (t) => {
  const { url, a, b } = await twoGateways(t, 2);
  const tickets = await paidTickets(a, [1, 2]);
  const bob = await activeToken(b, 'bob');
  const cat = await activeToken(b, 'cat');
  t.like(await b.joinWaitlist(bob, 'w'), { position: 1, quantity: 1, offered: 0 });
  t.like(await a.joinWaitlist(cat, 'w', { quantity: 2 }), { position: 2, quantity: 2 });
  const bobs = recorder();
  const stop = await b.watchWaitlist(bob, 'w', bobs.watcher);
  t.teardown(stop);
  const cats = recorder();
  t.teardown(await b.watchWaitlist(cat, 'w', cats.watcher));
  t.like(bobs.told[0], { entry: { position: 1, offered: 0 } });

  await a.refundTicket(tickets[0]!.id, { userId: 'ann' });
  await bobs.until(() => bobs.told.some((x) => 'entry' in x && x.entry === undefined));
  const offer = bobs.told.find((x) => 'reservation' in x) as { reservation: Reservation };
  t.like(offer.reservation, {
    userId: 'bob',
    scheduleId: 'w',
    seatNo: 1,
    status: 'held',
    origin: 'waitlist',
  });
  t.is((await readContents(url)).reservations.get(offer.reservation.id)?.origin, 'waitlist');
  // Cat moved up to the head.
  await cats.until(() => cats.told.some((x) => 'entry' in x && x.entry?.position === 1));
  // Bob sees it in his reservations, on either gateway, and pays it.
  t.deepEqual(
    (await a.listReservations(bob)).map((r) => r.id),
    [offer.reservation.id],
  );
  await b.charge(bob, { userId: 'bob', amount: 1_000 });
  t.like(await a.pay(bob, { reservationId: offer.reservation.id }), { amount: 1_000 });
  t.deepEqual(invariantViolations(await readContents(url)), []);
});

/** Every offered hold's seats (`origin = 'waitlist'`, any status), by seat, from the database. */
async function offeredSeats(url: string) {
  const contents = await readContents(url);
  const bySeat = new Map<number, string[]>();
  const byUser = new Map<string, number>();
  for (const r of contents.reservations.values()) {
    if (r.origin !== 'waitlist') continue;
    const seats = r.seats?.map((seat) => seat.seatNo) ?? [r.seatNo];
    for (const seatNo of seats) bySeat.set(seatNo, [...(bySeat.get(seatNo) ?? []), r.id]);
    byUser.set(r.userId, (byUser.get(r.userId) ?? 0) + seats.length);
  }
  return { contents, bySeat, byUser };
}

test('20 refunds, cancels and expiries at once on two gateways, 10 users waiting: every seat offered once, no entry past its quantity', async (t) => {
  const { url, a, b, clock } = await twoGateways(t, 20);
  const gateway = (i: number) => (i % 2 === 0 ? a : b);
  // Seats 15..20: holds that will be past their deadline.
  const late = await Promise.all(
    [15, 16, 17, 18, 19, 20].map(async (seatNo) => {
      const token = await activeToken(a, `e${seatNo}`);
      return a.reserve(token, { scheduleId: 'w', seatNo });
    }),
  );
  clock.increment(a.config.holdTtlMs - 1_000);
  // Seats 1..8 sold (to be refunded), 9..14 held (to be cancelled).
  const tickets = [
    ...(await paidTickets(a, [1, 2, 3, 4])),
    ...(await paidTickets(a, [5, 6, 7, 8])),
  ];
  const held = await Promise.all(
    [9, 10, 11, 12, 13, 14].map(async (seatNo) => {
      const token = await activeToken(b, `h${seatNo}`);
      return { token, hold: await b.reserve(token, { scheduleId: 'w', seatNo }) };
    }),
  );
  // Ten users wait, asking 17 seats in all (3 go back on sale).
  const quantities = [1, 2, 3, 1, 2, 3, 1, 2, 1, 1];
  const waiting: string[] = [];
  for (const [i, quantity] of quantities.entries()) {
    const user = `w${i}`;
    const token = await activeToken(gateway(i), user);
    // Not while a seat is for sale: the holds still hold every seat.
    t.like(await gateway(i).joinWaitlist(token, 'w', { quantity }), { position: i + 1 });
    waiting.push(user);
  }
  clock.increment(1_001); // seats 15..20 are now past their deadline
  const buyers = await Promise.all([0, 1].map((i) => activeToken(gateway(i), `f${i}`)));

  const frees = [
    ...tickets.map((ticket, i) => () => gateway(i).refundTicket(ticket.id, { userId: 'ann' })),
    ...held.map(
      ({ token, hold }, i) =>
        () =>
          gateway(i + 1).cancelReservation(token, hold.id),
    ),
  ];
  const outcomes = await Promise.allSettled([
    ...frees.map((free) => free()),
    a.tick(),
    b.sweep(),
    // Someone wants a seat past its deadline meanwhile: it goes to the waitlist first.
    ...buyers.map((token, i) => gateway(i).reserve(token, { scheduleId: 'w', seatNo: 15 + i })),
  ]);
  // Offers to one list conflict with each other (each restates its head), so a free may lose every
  // try and answer UNAVAILABLE ("try again", a 503): nothing of it applied. A client tries again.
  let retried = 0;
  for (const [i, outcome] of outcomes.slice(0, 16).entries()) {
    if (outcome.status === 'fulfilled') continue;
    t.true(
      isEngineError(outcome.reason) && outcome.reason.code === 'UNAVAILABLE',
      String(outcome.reason),
    );
    retried++;
    await frees[i]!();
  }
  t.log(`${retried} of 16 frees answered UNAVAILABLE and were tried again`);
  // Whatever the tick and the sweep left (one of them found the holds due), expired now.
  await a.tick();

  const { contents, bySeat, byUser } = await offeredSeats(url);
  t.deepEqual(invariantViolations(contents), []);
  // Every seat in at most one offered hold; 17 seats offered, each user exactly what they asked.
  t.deepEqual(
    [...bySeat].filter(([, ids]) => ids.length > 1),
    [],
  );
  t.is(bySeat.size, 17);
  t.deepEqual(
    waiting.map((user) => byUser.get(user) ?? 0),
    quantities,
  );
  t.is(contents.waitlist.size, 0, 'every entry fulfilled, none past its quantity');
  // No seat in two live holds (offers included), and the 3 left are for sale or taken by the buyers.
  const live = new Map<number, string>();
  for (const r of contents.reservations.values()) {
    if (r.status !== 'held' && r.status !== 'paid') continue;
    for (const seatNo of r.seats?.map((seat) => seat.seatNo) ?? [r.seatNo]) {
      if (
        r.status === 'paid' &&
        [...contents.tickets.values()].some(
          (x) => x.reservationId === r.id && x.seatNo === seatNo && x.status === 'refunded',
        )
      )
        continue;
      t.false(live.has(seatNo), `seat ${seatNo} in two live reservations`);
      live.set(seatNo, r.id);
    }
  }
  const bought = outcomes.slice(16).filter((o) => o.status === 'fulfilled').length;
  t.is(live.size, 17 + bought);
  const free = (await a.listSeats(buyers[0]!, 'w')).seats.length;
  t.is(free, 3 - bought);
});

test('joins and offers acknowledged before PostgreSQL crashes are there after it restarts, and nothing is offered twice', async (t) => {
  const own = await startPostgres();
  t.teardown(() => own.remove());
  const clock = simulatedClock();
  const open = () =>
    createPostgresEngine({ connectionString: own.connectionString, clock, config });
  const engine = await open();
  await engine.loadCatalog(small(4));
  const tickets = await paidTickets(engine, [1, 2]);
  const holds = await Promise.all(
    [3, 4].map(async (seatNo) => {
      const token = await activeToken(engine, `h${seatNo}`);
      return engine.reserve(token, { scheduleId: 'w', seatNo });
    }),
  );
  const joined: WaitlistEntry[] = [];
  for (const [i, quantity] of [2, 1, 2].entries()) {
    const token = await activeToken(engine, `w${i}`);
    joined.push(await engine.joinWaitlist(token, 'w', { quantity }));
  }
  // A refund offers seat 1 to w0 (who asked for 2), half a hold's life later; the holds expire after the crash.
  clock.increment(engine.config.holdTtlMs / 2);
  await engine.refundTicket(tickets[0]!.id, { userId: 'ann' });
  const before = await readContents(own.connectionString);
  t.is([...before.reservations.values()].filter((r) => r.origin === 'waitlist').length, 1);

  await engine.close();
  await own.stop('immediate');
  await own.start();
  const again = await open();
  t.teardown(() => again.close());
  const after = await readContents(own.connectionString);
  t.deepEqual([...after.waitlist], [...before.waitlist]);
  t.deepEqual([...after.reservations], [...before.reservations]);
  const w1 = await activeToken(again, 'w1');
  t.like(await again.getWaitlistEntry(w1, 'w'), { position: 2, quantity: 1, offered: 0 });

  // The holds expire after the restart: seat 3 to w0 (now fulfilled), seat 4 to w1.
  clock.increment(again.config.holdTtlMs / 2);
  t.true(holds.every((hold) => Date.parse(hold.expiresAt) <= clock.now()));
  await again.tick();
  await again.tick();
  await again.sweep();
  const { contents, bySeat, byUser } = await offeredSeats(own.connectionString);
  t.deepEqual(invariantViolations(contents), []);
  t.deepEqual(
    [...bySeat].filter(([, ids]) => ids.length > 1),
    [],
  );
  t.deepEqual(Object.fromEntries(byUser), { w0: 2, w1: 1 });
  t.deepEqual(
    [...contents.waitlist.values()].map((entry) => [entry.userId, entry.offered]),
    [['w2', 0]],
  );
});

test('migration 9 applies on a database of migration 8 with its data: existing holds are no offers, the engine serves them', async (t) => {
  const url = await createDatabase(server());
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  t.teardown(() => pool.end());
  await pool.query(
    'CREATE TABLE usher_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  for (const migration of migrations.filter((m) => m.version < 9)) {
    await pool.query(migration.sql);
    await pool.query('INSERT INTO usher_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
  }
  await pool.query(`INSERT INTO concerts VALUES ('c1', '{"id":"c1","title":"Old"}')`);
  await pool.query(
    `INSERT INTO schedules VALUES ('w', 'c1', '2027-01-01T19:00:00Z', 1,
       '{"id":"w","concertId":"c1","startsAt":"2027-01-01T19:00:00Z","totalSeats":1,"prices":[{"from":1,"to":1,"price":1000}]}')`,
  );
  await pool.query(
    `INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, status, created_at, expires_at)
     VALUES ('r1', 'ann', 'w', 1, 1000, 'held', $1, $2)`,
    [START, START + 1_000],
  );
  t.deepEqual(
    await migrate(pool),
    migrations.filter((m) => m.version >= 9).map((m) => m.version),
    'migration 9 and those after it',
  );
  t.deepEqual((await pool.query(`SELECT id, origin FROM reservations`)).rows, [
    { id: 'r1', origin: null },
  ]);
  // The old hold holds the only seat: a join waits, and its expiry offers the seat.
  const clock = simulatedClock();
  const { engine } = await openEngine(t, url, { config, clock, catalog: null });
  const bob = await activeToken(engine, 'bob');
  t.like(await engine.joinWaitlist(bob, 'w'), { position: 1 });
  clock.increment(1_000);
  await engine.tick();
  const [offer] = await engine.listReservations(bob);
  t.like(offer, { userId: 'bob', seatNo: 1, status: 'held' });
});

test('a hold past its deadline that no keeper has expired yet goes to the waitlist first: a join or a reserve meeting it expires it with its offer', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const { engine } = await openEngine(t, url, { config, clock, catalog: small(3) });
  const hold = async (user: string, seatNo: number) =>
    engine.reserve(await activeToken(engine, user), { scheduleId: 'w', seatNo });
  await hold('ann', 1);
  await hold('amy', 2);
  clock.increment(engine.config.holdTtlMs / 2);
  await hold('bob', 3);
  const cat = await activeToken(engine, 'cat');
  await engine.joinWaitlist(cat, 'w', { quantity: 1 });
  const dan = await activeToken(engine, 'dan');
  await engine.joinWaitlist(dan, 'w', { quantity: 1 });
  clock.increment(engine.config.holdTtlMs / 2); // ann's and amy's holds are past their deadline, bob's is not
  // A reserve of ann's seat finds it overdue: it goes to cat, the first waiting.
  const eve = await activeToken(engine, 'eve');
  await rejects(t, engine.reserve(eve, { scheduleId: 'w', seatNo: 1 }), 'SEAT_UNAVAILABLE');
  t.like((await engine.listReservations(cat))[0], { seatNo: 1, origin: 'waitlist' });
  // A join finds amy's seat overdue: it goes to dan, and no seat is for sale, so eve waits.
  t.like(await engine.joinWaitlist(eve, 'w'), { position: 1 });
  t.like((await engine.listReservations(dan))[0], { seatNo: 2, origin: 'waitlist' });
  t.deepEqual(invariantViolations(await readContents(url)), []);
});
