import test, { type ExecutionContext } from 'ava';
import { invariantViolations, isEngineError, type UsherEngine } from '@usher/engine';
import { createPostgresEngine, readContents } from '@usher/postgres';
import { createDatabase, startPostgres, usePostgres } from '@usher/testkit';
import {
  activeToken,
  catalog,
  manual,
  openEngine,
  rejects,
  simulatedClock,
} from './helpers/engines.js';

/**
 * Tickets on PostgreSQL (SPEC §11, migration 8), where the behaviour suite
 * cannot reach: several engines on one database (two gateways) racing on one
 * ticket, and a crash of PostgreSQL itself. The rules' answers are the
 * behaviour suite's, on both engines.
 */
const server = usePostgres(test);

const config = { ...manual, maxTicketsPerUser: 10, maxHoldsPerUser: 10 };

/** A paid order of `seatNos` of s1 (1,000 each) by ann on `engine`: its tickets, ascending by seat. */
async function paidTickets(engine: UsherEngine, seatNos: readonly number[], user = 'ann') {
  const token = await activeToken(engine, user);
  await engine.charge(token, { userId: user, amount: 10_000 });
  const order = await engine.reserve(token, { scheduleId: 's1', seatNos: [...seatNos] });
  await engine.pay(token, { reservationId: order.id });
  const tickets = (await engine.listTickets(user)).filter((t) => t.reservationId === order.id);
  return [...tickets].sort((a, b) => a.seatNo - b.seatNo);
}

const claimsOf = (ticket: { id: string; scheduleId: string; seatNo: number; holder: string }) => ({
  tid: ticket.id,
  sch: ticket.scheduleId,
  seat: ticket.seatNo,
  sub: ticket.holder,
});

async function twoGateways(t: ExecutionContext) {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const a = await openEngine(t, url, { config, clock });
  const b = await openEngine(t, url, { config, clock, catalog: null, keeper: false });
  return { url, a: a.engine, b: b.engine, clock };
}

test('50 check-ins of one ticket at once on two gateways: one succeeds, 49 are ALREADY_CHECKED_IN with its time', async (t) => {
  const { url, a, b, clock } = await twoGateways(t);
  const [ticket] = await paidTickets(a, [1]);
  const scans = Array.from({ length: 50 }, (_, i) => {
    clock.increment(i % 3);
    return (i % 2 === 0 ? a : b).checkIn(claimsOf(ticket!));
  });
  const outcomes = await Promise.allSettled(scans);
  const won = outcomes.filter((o) => o.status === 'fulfilled');
  t.is(won.length, 1);
  const first = (won[0] as PromiseFulfilledResult<{ checkedInAt: string }>).value.checkedInAt;
  for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
    const error = (outcome as PromiseRejectedResult).reason;
    t.true(isEngineError(error) && error.code === 'ALREADY_CHECKED_IN', String(error));
    t.is(error.details?.checkedInAt, first);
  }
  const [after] = await b.listTickets('ann');
  t.like(after, { status: 'checked_in', checkedInAt: first });
  t.deepEqual(invariantViolations(await readContents(url)), []);
});

test('retries of one refund at once on two gateways with one Idempotency-Key: credited once, every answer the same', async (t) => {
  const { url, a, b } = await twoGateways(t);
  const [ticket] = await paidTickets(a, [1, 2]);
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? a : b).refundTicket(ticket!.id, { userId: 'ann' }, { idempotencyKey: 'r1' }),
    ),
  );
  for (const answer of answers) t.deepEqual(answer, answers[0]);
  t.like(answers[0], { id: ticket!.id, status: 'refunded' });
  const ann = await activeToken(b, 'ann');
  t.deepEqual(await b.getBalance(ann, 'ann'), { userId: 'ann', balance: 10_000 - 2_000 + 1_000 });
  const contents = await readContents(url);
  t.like(contents.wallets.get('ann'), { charged: 10_000, paid: 2_000, refunded: 1_000 });
  t.deepEqual(invariantViolations(contents), []);
  // The same key for another ticket is refused; the seat is for sale again.
  await rejects(
    t,
    a.refundTicket(ticketIdOther(ticket!.id), { userId: 'ann' }, { idempotencyKey: 'r1' }),
    'IDEMPOTENCY_KEY_REUSED',
  );
  t.true((await a.listSeats(ann, 's1')).seats.some((seat) => seat.seatNo === 1));
});

/** The other seat's ticket of the same order (`<reservation>-<seat>`). */
const ticketIdOther = (id: string) => id.replace(/-1$/, '-2');

test('a check-in, a refund and a transfer of one ticket at once on two gateways: exactly one wins', async (t) => {
  const { url, a, b } = await twoGateways(t);
  const tickets = await paidTickets(a, [1, 2, 3, 4]);
  for (const [i, ticket] of tickets.entries()) {
    const [one, other] = i % 2 === 0 ? [a, b] : [b, a];
    const outcomes = await Promise.allSettled([
      one.checkIn(claimsOf(ticket)),
      other.refundTicket(ticket.id, { userId: 'ann' }),
      one.transferTicket(ticket.id, { userId: 'ann', toUserId: `bob${i}` }),
      other.refundTicket(ticket.id, { operator: true }),
    ]);
    t.is(outcomes.filter((o) => o.status === 'fulfilled').length, 1, `ticket ${ticket.seatNo}`);
    for (const outcome of outcomes)
      if (outcome.status === 'rejected')
        t.true(
          isEngineError(outcome.reason) &&
            ['ALREADY_CHECKED_IN', 'TICKET_VOID'].includes(outcome.reason.code),
          String(outcome.reason),
        );
  }
  t.deepEqual(invariantViolations(await readContents(url)), []);
});

test("a transfer counts for the receiver's MAX_TICKETS_PER_USER, across gateways", async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const limited = { ...config, maxTicketsPerUser: 2 };
  const { engine: a } = await openEngine(t, url, { config: limited, clock });
  const { engine: b } = await openEngine(t, url, {
    config: limited,
    clock,
    catalog: null,
    keeper: false,
  });
  const tickets = await paidTickets(a, [1, 2]);
  const bob = await activeToken(b, 'bob');
  await b.reserve(bob, { scheduleId: 's1', seatNo: 5 });
  // Bob holds one seat: of two transfers to him at once, on two gateways, one fits.
  const outcomes = await Promise.allSettled([
    a.transferTicket(tickets[0]!.id, { userId: 'ann', toUserId: 'bob' }),
    b.transferTicket(tickets[1]!.id, { userId: 'ann', toUserId: 'bob' }),
  ]);
  t.is(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
  const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
  t.is(refused.reason.code, 'TICKET_LIMIT_REACHED');
  // And bob's own hold counts them: a third seat is past his limit.
  await rejects(t, b.reserve(bob, { scheduleId: 's1', seatNo: 6 }), 'TICKET_LIMIT_REACHED');
  t.deepEqual(invariantViolations(await readContents(url)), []);
});

test('a refund lowers the count sold-out compares: a sold-out sale opens again at the next tick', async (t) => {
  const url = await createDatabase(server());
  const { engine } = await openEngine(t, url, {
    config,
    catalog: {
      concerts: [{ id: 'c1', title: 'Small' }],
      schedules: [
        {
          id: 's1',
          concertId: 'c1',
          startsAt: '2027-05-01T19:00:00Z',
          totalSeats: 1,
          price: 1_000,
        },
      ],
    },
  });
  const [ticket] = await paidTickets(engine, [1]);
  await engine.tick();
  t.true((await engine.room()).soldOut);
  await engine.refundTicket(ticket!.id, { userId: 'ann' });
  await engine.tick();
  t.false((await engine.room()).soldOut);
  const cat = await activeToken(engine, 'cat');
  t.is((await engine.reserve(cat, { scheduleId: 's1', seatNo: 1 })).status, 'held');
});

test('tickets, check-ins, refunds and transfers acknowledged before PostgreSQL crashes are there after it restarts', async (t) => {
  const own = await startPostgres();
  t.teardown(() => own.remove());
  const clock = simulatedClock();
  const open = () =>
    createPostgresEngine({ connectionString: own.connectionString, clock, config });
  const engine = await open();
  await engine.loadCatalog(catalog);
  const tickets = await paidTickets(engine, [1, 2, 3, 4]);
  const checked = await engine.checkIn(claimsOf(tickets[0]!));
  const refunded = await engine.refundTicket(
    tickets[1]!.id,
    { userId: 'ann' },
    { idempotencyKey: 'k' },
  );
  const given = await engine.transferTicket(tickets[2]!.id, { userId: 'ann', toUserId: 'bob' });
  const before = await readContents(own.connectionString);

  await engine.close();
  await own.stop('immediate');
  await own.start();
  const again = await open();
  t.teardown(() => again.close());
  const after = await readContents(own.connectionString);
  t.deepEqual([...after.tickets], [...before.tickets]);
  t.deepEqual([...after.wallets], [...before.wallets]);
  t.deepEqual(invariantViolations(after), []);
  const anns = await again.listTickets('ann');
  t.like(
    anns.find((x) => x.id === tickets[0]!.id),
    { status: 'checked_in', checkedInAt: checked.checkedInAt },
  );
  t.like(
    anns.find((x) => x.id === tickets[1]!.id),
    { status: 'refunded' },
  );
  t.like(
    anns.find((x) => x.id === tickets[2]!.id),
    { status: 'transferred' },
  );
  t.deepEqual(await again.listTickets('bob'), [given]);
  // Acknowledged once: the refund's key replays, the check-in stays done.
  t.deepEqual(
    await again.refundTicket(tickets[1]!.id, { userId: 'ann' }, { idempotencyKey: 'k' }),
    refunded,
  );
  await rejects(t, again.checkIn(claimsOf(tickets[0]!)), 'ALREADY_CHECKED_IN');
  await rejects(t, again.checkIn(claimsOf(tickets[2]!)), 'TICKET_VOID');
  t.like(await again.checkIn(claimsOf(given)), { ticketId: given.id });
});
