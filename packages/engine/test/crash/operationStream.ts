/**
 * The child process of the crash test: streams charges, holds, payments,
 * cancellations, ticket refunds and transfers (SPEC §11), holds of a small date
 * `w` and joins of its waitlist (its freed seats become offers) against a lowdb store in `argv[2]`, 32 at a time, and prints
 * one JSON line per operation *after* it was acknowledged. It runs until it is
 * killed. Every charge carries an idempotency key, so the parent can find each
 * acknowledged charge in the store.
 */
import { createEngine, isEngineError, type Engine } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';

const [dir, run] = process.argv.slice(2) as [string, string];
const USERS = 40;
const seats = ['a', 'b', 'c', 'd'].flatMap((scheduleId) =>
  Array.from({ length: 250 }, (_, i) => ({ scheduleId, seatNo: i + 1 })),
);

const engine: Engine = await createEngine({
  store: new LowdbStore(dir),
  config: {
    queueMaxActive: 10_000,
    holdTtlMs: 1_500,
    maxHoldsPerUser: 2,
    tokenActiveTtlMs: 3_600_000,
  },
});
if ((await engine.stats()).schedules === 0) {
  await engine.loadCatalog({
    concerts: [{ id: 'c', title: 'Crash Test' }],
    schedules: [
      ...['a', 'b', 'c', 'd'].map((id) => ({
        id,
        concertId: 'c',
        startsAt: '2027-01-01T19:00:00Z',
        totalSeats: 250,
        price: 700,
      })),
      // Sold out often: its freed seats go to its waitlist (SPEC §11).
      { id: 'w', concertId: 'c', startsAt: '2027-01-01T19:00:00Z', totalSeats: 3, price: 900 },
    ],
  });
}
const ack = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
ack({ op: 'ready' });

const tokens = new Map<string, string>();
const holds = new Map<string, { id: string; seatNo: number }[]>();
/** Each user's valid tickets, by id. */
const tickets = new Map<string, string[]>();
let counter = 0;
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

async function tokenOf(userId: string): Promise<string> {
  let token = tokens.get(userId);
  if (!token) tokens.set(userId, (token = (await engine.issueToken(userId)).token.token));
  return token;
}

async function operate(): Promise<void> {
  const userId = `u${Math.floor(Math.random() * USERS)}`;
  const token = await tokenOf(userId);
  const mine = holds.get(userId) ?? [];
  const owned = tickets.get(userId) ?? [];
  const roll = Math.random();
  try {
    if (roll < 0.35) {
      const key = `${run}-${counter++}`;
      const amount = 1 + Math.floor(Math.random() * 1_500);
      await engine.charge(token, { userId, amount }, { idempotencyKey: key });
      ack({ op: 'charge', userId, key, amount });
    } else if (roll < 0.45) {
      if (Math.random() < 0.5) {
        const hold = await engine.reserve(token, {
          scheduleId: 'w',
          seatNo: 1 + Math.floor(Math.random() * 3),
        });
        holds.set(userId, [...mine, { id: hold.id, seatNo: hold.seatNo }]);
        ack({ op: 'reserve', userId, id: hold.id });
      } else {
        const quantity = 1 + Math.floor(Math.random() * 2);
        await engine.joinWaitlist(token, 'w', { quantity });
        ack({ op: 'join', userId });
      }
    } else if (roll < 0.7 || mine.length === 0) {
      const hold = await engine.reserve(token, pick(seats));
      holds.set(userId, [...mine, { id: hold.id, seatNo: hold.seatNo }]);
      ack({ op: 'reserve', userId, id: hold.id });
    } else if (roll < 0.85 && owned.length > 0) {
      const ticketId = owned.shift()!;
      if (Math.random() < 0.5) {
        await engine.refundTicket(ticketId, { userId }, { idempotencyKey: `${run}-${counter++}` });
        ack({ op: 'refund', userId, ticketId });
      } else {
        const to = `u${Math.floor(Math.random() * USERS)}`;
        if (to === userId) return;
        const given = await engine.transferTicket(ticketId, { userId, toUserId: to });
        tickets.set(to, [...(tickets.get(to) ?? []), given.id]);
        ack({ op: 'transfer', userId, ticketId, newTicketId: given.id });
      }
    } else if (roll < 0.92) {
      const { id: reservationId, seatNo } = mine.shift()!;
      const payment = await engine.pay(token, { reservationId });
      tickets.set(userId, [...owned, `${reservationId}-${seatNo}`]);
      ack({ op: 'pay', userId, id: payment.id, reservationId, amount: payment.amount });
    } else {
      const { id: reservationId } = mine.shift()!;
      await engine.cancelReservation(token, reservationId);
      ack({ op: 'cancel', userId, reservationId });
    }
  } catch (error) {
    if (!isEngineError(error)) throw error;
    if (error.code === 'TOKEN_INVALID') tokens.delete(userId);
  }
}

await Promise.all(
  Array.from({ length: 32 }, async () => {
    for (;;) await operate();
  }),
);
