import test, { type ExecutionContext } from 'ava';
import {
  invariantViolations,
  type CatalogInput,
  type Reservation,
  type UsherEngine,
  type WaitlistEntry,
} from '@usher/engine';
import { readContents } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';
import { activeToken, manual, openEngine, simulatedClock } from './helpers/engines.js';

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
