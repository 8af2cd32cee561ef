import { invariantViolations, type StoreContents } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { readContents } from '@usher/postgres';
import { PRICE } from './usherServer.js';

/** A broken invariant: the bench fails loudly. */
export class InvariantBroken extends Error {
  override readonly name = 'InvariantBroken';
}

export function check(condition: boolean, message: string): void {
  if (!condition) throw new InvariantBroken(message);
}

/** What the bench was told it did (2xx answers only), to compare with what the server kept. */
export class Ledger {
  readonly charged = new Map<string, number>();
  readonly paid = new Map<string, number>();
  readonly paymentIds = new Set<string>();
  /** Refunds of tickets acknowledged (SPEC §11), by user. */
  readonly refunded = new Map<string, number>();
  readonly heldBySchedule = new Map<string, Set<string>>();

  charge(userId: string, amount: number): void {
    this.charged.set(userId, (this.charged.get(userId) ?? 0) + amount);
  }

  pay(userId: string, paymentId: string, amount: number): void {
    this.paymentIds.add(paymentId);
    this.paid.set(userId, (this.paid.get(userId) ?? 0) + amount);
  }

  refund(userId: string, amount: number): void {
    this.refunded.set(userId, (this.refunded.get(userId) ?? 0) + amount);
  }

  hold(scheduleId: string, reservationId: string): void {
    let holds = this.heldBySchedule.get(scheduleId);
    if (!holds) this.heldBySchedule.set(scheduleId, (holds = new Set()));
    holds.add(reservationId);
  }
}

/**
 * Opens the stopped server's lowdb folder and checks SPEC §5 on what it
 * durably holds: no seat claimed twice, exactly the acknowledged holds and
 * payments, and money exact per user.
 */
export async function checkStore(
  dataDir: string,
  ledger: Ledger,
  seatsPerSchedule: Record<string, number>,
): Promise<Record<string, number>> {
  const store = new LowdbStore(dataDir);
  const contents = await store.load();
  await store.close();
  check(contents !== null, 'the store is empty');
  return checkContents(contents!, ledger, seatsPerSchedule);
}

/** The same checks on what a PostgreSQL-mode server's database durably holds. */
export async function checkDatabase(
  databaseUrl: string,
  ledger: Ledger,
  seatsPerSchedule: Record<string, number>,
): Promise<Record<string, number>> {
  return checkContents(await readContents(databaseUrl), ledger, seatsPerSchedule);
}

function checkContents(
  contents: StoreContents,
  ledger: Ledger,
  seatsPerSchedule: Record<string, number>,
): Record<string, number> {
  const claims = new Map<string, string>();
  const claimed = new Map<string, number>();
  for (const reservation of contents!.reservations.values()) {
    if (reservation.status !== 'held' && reservation.status !== 'paid') continue;
    // An order holds several seats (SPEC §10): each of them is claimed once.
    for (const { seatNo } of reservation.seats ?? [{ seatNo: reservation.seatNo }]) {
      const seat = `${reservation.scheduleId}#${seatNo}`;
      check(
        !claims.has(seat),
        `seat ${seat} is claimed by ${claims.get(seat)} and ${reservation.id}`,
      );
      claims.set(seat, reservation.id);
    }
    claimed.set(reservation.scheduleId, (claimed.get(reservation.scheduleId) ?? 0) + 1);
  }
  for (const [scheduleId, holds] of ledger.heldBySchedule) {
    check(
      holds.size === seatsPerSchedule[scheduleId],
      `${scheduleId}: ${holds.size} holds acknowledged, ${seatsPerSchedule[scheduleId]} expected`,
    );
    check(
      claimed.get(scheduleId) === holds.size,
      `${scheduleId}: ${claimed.get(scheduleId)} holds in the store, ${holds.size} acknowledged`,
    );
    for (const id of holds)
      check(contents!.reservations.has(id), `acknowledged hold ${id} is not in the store`);
  }
  check(
    contents!.payments.size === ledger.paymentIds.size,
    `${contents!.payments.size} payments stored, ${ledger.paymentIds.size} acknowledged`,
  );
  const perReservation = new Set<string>();
  for (const payment of contents!.payments.values()) {
    check(ledger.paymentIds.has(payment.id), `payment ${payment.id} was never acknowledged`);
    check(
      !perReservation.has(payment.reservationId),
      `reservation ${payment.reservationId} paid twice`,
    );
    perReservation.add(payment.reservationId);
    check(payment.amount === PRICE, `payment ${payment.id} of ${payment.amount}`);
  }
  for (const wallet of contents!.wallets.values()) {
    check(
      wallet.charged === (ledger.charged.get(wallet.userId) ?? 0),
      `${wallet.userId}: ${wallet.charged} charged in the store, ${ledger.charged.get(wallet.userId) ?? 0} acknowledged`,
    );
    check(
      wallet.paid === (ledger.paid.get(wallet.userId) ?? 0),
      `${wallet.userId}: ${wallet.paid} paid in the store, ${ledger.paid.get(wallet.userId) ?? 0} acknowledged`,
    );
    check(
      (wallet.refunded ?? 0) === (ledger.refunded.get(wallet.userId) ?? 0),
      `${wallet.userId}: ${wallet.refunded ?? 0} refunded in the store, ${ledger.refunded.get(wallet.userId) ?? 0} acknowledged`,
    );
    check(
      wallet.balance === wallet.charged - wallet.paid + (wallet.refunded ?? 0) &&
        wallet.balance >= 0,
      `${wallet.userId}: balance ${wallet.balance}`,
    );
  }
  // SPEC §5 and §11 as the engines' own suites check them (tickets of paid seats, one live per seat, refunds add up).
  const violations = invariantViolations(contents!);
  check(violations.length === 0, `invariantViolations: ${violations.slice(0, 5).join('; ')}`);
  const tickets: Record<string, number> = {};
  for (const ticket of contents!.tickets.values())
    tickets[ticket.status] = (tickets[ticket.status] ?? 0) + 1;
  return {
    reservations: contents!.reservations.size,
    payments: contents!.payments.size,
    wallets: contents!.wallets.size,
    tokens: contents!.tokens.size,
    ...Object.fromEntries(
      Object.entries(tickets).map(([status, count]) => [`${status} tickets`, count]),
    ),
  };
}
