/**
 * The child process of the PostgreSQL crash test (`crash.test.ts`): one engine
 * over the database `argv[2]`, on the wall clock, streaming charges, holds,
 * (of one seat, of several, or the best available: SPEC §10's orders)
 * payments, cancellations, and the tickets' refunds (with a key), transfers
 * and check-ins (SPEC §11), 16 at a time, and printing one JSON line per
 * operation *after* it was acknowledged. It runs until it is killed. Every
 * charge carries an idempotency key, so the parent can find each acknowledged
 * charge in the database. `argv[3]` names the run (keys stay unique across runs).
 */
import { isEngineError, type Ticket } from '@usher/engine';
import { createPostgresEngine } from '@usher/postgres';

const [connectionString, run] = process.argv.slice(2) as [string, string];
const USERS = 40;
const SCHEDULES = ['a', 'b', 'c', 'd'];
const seats = SCHEDULES.flatMap((scheduleId) =>
  Array.from({ length: 100 }, (_, i) => ({ scheduleId, seatNo: i + 1 })),
);

const engine = await createPostgresEngine({
  connectionString,
  config: {
    queueMaxActive: 10_000,
    queueTickMs: 200,
    holdTtlMs: 1_500,
    maxHoldsPerUser: 2,
    maxTicketsPerUser: 10_000,
    tokenActiveTtlMs: 3_600_000,
  },
});
// Identical entries are skipped, so every run loads the same catalog.
await engine.loadCatalog({
  concerts: [{ id: 'c', title: 'Crash Test' }],
  schedules: SCHEDULES.map((id) => ({
    id,
    concertId: 'c',
    startsAt: '2027-01-01T19:00:00Z',
    totalSeats: 100,
    price: 700,
  })),
});
const ack = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
ack({ op: 'ready' });

const tokens = new Map<string, string>();
const holds = new Map<string, string[]>();
/** Each user's valid tickets, as this process knows them. */
const tickets = new Map<string, Ticket[]>();
const give = (userId: string, given: readonly Ticket[]) =>
  tickets.set(userId, [...(tickets.get(userId) ?? []), ...given]);
let counter = 0;
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

async function tokenOf(userId: string): Promise<string> {
  let token = tokens.get(userId);
  if (!token) tokens.set(userId, (token = (await engine.issueToken(userId)).token.token));
  return token;
}

async function operate(): Promise<void> {
  const userId = `u${Math.floor(Math.random() * USERS)}`;
  const mine = holds.get(userId) ?? [];
  const own = tickets.get(userId) ?? [];
  const roll = Math.random();
  try {
    const token = await tokenOf(userId);
    if (roll >= 0.85 && own.length > 0) {
      // One of the user's tickets, taken off the list first (the other loops leave it alone).
      const ticket = own.splice(Math.floor(Math.random() * own.length), 1)[0]!;
      if (roll < 0.9) {
        const key = `${run}-${counter++}`;
        await engine.refundTicket(ticket.id, { userId }, { idempotencyKey: key });
        ack({ op: 'refund', userId, ticketId: ticket.id, key });
      } else if (roll < 0.95) {
        const toUserId = `u${Math.floor(Math.random() * USERS)}`;
        if (toUserId === userId) return void own.push(ticket);
        const given = await engine.transferTicket(ticket.id, { userId, toUserId });
        give(toUserId, [given]);
        ack({ op: 'transfer', userId, ticketId: ticket.id, newId: given.id, toUserId });
      } else {
        await engine.checkIn({
          tid: ticket.id,
          sch: ticket.scheduleId,
          seat: ticket.seatNo,
          sub: ticket.holder,
        });
        ack({ op: 'checkin', ticketId: ticket.id });
      }
    } else if (roll < 0.35) {
      const key = `${run}-${counter++}`;
      const amount = 1 + Math.floor(Math.random() * 1_500);
      await engine.charge(token, { userId, amount }, { idempotencyKey: key });
      ack({ op: 'charge', userId, key, amount });
    } else if (roll < 0.65 || mine.length === 0) {
      const { scheduleId, seatNo } = pick(seats);
      const kind = Math.random();
      const hold = await engine.reserve(
        token,
        kind < 0.4
          ? { scheduleId, seatNo }
          : kind < 0.7
            ? { scheduleId, seatNos: [seatNo, seatNo + 1, seatNo + 2].filter((n) => n <= 100) }
            : { scheduleId, quantity: 2 },
      );
      holds.set(userId, [...mine, hold.id]);
      ack({ op: 'reserve', userId, id: hold.id });
    } else if (roll < 0.8) {
      const reservationId = mine.shift()!;
      const payment = await engine.pay(token, { reservationId });
      ack({ op: 'pay', userId, id: payment.id, reservationId, amount: payment.amount });
      give(
        userId,
        (await engine.listTickets(userId)).filter(
          (ticket) => ticket.reservationId === reservationId,
        ),
      );
    } else {
      const reservationId = mine.shift()!;
      await engine.cancelReservation(token, reservationId);
      ack({ op: 'cancel', userId, reservationId });
    }
  } catch (error) {
    if (!isEngineError(error)) throw error;
    // A token that completed (its last hold paid) or expired: the next operation issues a new one.
    if (error.code === 'TOKEN_INVALID' || error.code === 'TOKEN_NOT_ACTIVE') tokens.delete(userId);
  }
}

await Promise.all(
  Array.from({ length: 16 }, async () => {
    for (;;) await operate();
  }),
);
