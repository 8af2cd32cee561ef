import type { StoreContents } from './persistence/Store.js';
import { amountOf, seatsOf } from './rules/orders.js';

/**
 * SPEC §5's invariants 1 and 2 on what an engine durably holds, as a list of
 * violations (empty when all hold): no seat is held or sold by two
 * reservations (seat by seat, a reservation may hold several); every payment
 * is of a paid reservation, by its holder, at its amount, one per reservation; every paid reservation has its payment;
 * every wallet balances (`balance = charged − paid ≥ 0`) and its payments add
 * up. One check for every suite, both engines and the bench.
 *
 * @example
 * ```ts
 * const contents = await store.load(); // or readContents(pool) from @usher/postgres
 * assert.deepEqual(invariantViolations(contents!), []);
 * ```
 */
export function invariantViolations(contents: StoreContents): string[] {
  const violations: string[] = [];
  const claims = new Map<string, string>();
  for (const reservation of contents.reservations.values()) {
    if (reservation.status !== 'held' && reservation.status !== 'paid') continue;
    const seats = seatsOf(reservation);
    if (seats[0]?.seatNo !== reservation.seatNo)
      violations.push(`reservation ${reservation.id} says seat ${reservation.seatNo} first`);
    let amount = 0;
    for (const { seatNo, price } of seats) {
      amount += price;
      const seat = `${reservation.scheduleId}#${seatNo}`;
      const other = claims.get(seat);
      if (other !== undefined)
        violations.push(`seat ${seat} is claimed by ${other} and ${reservation.id}`);
      claims.set(seat, reservation.id);
    }
    if (amount !== amountOf(reservation))
      violations.push(
        `reservation ${reservation.id} costs ${amountOf(reservation)}, its seats ${amount}`,
      );
  }
  const paidByUser = new Map<string, number>();
  const paidReservations = new Set<string>();
  for (const payment of contents.payments.values()) {
    if (paidReservations.has(payment.reservationId))
      violations.push(`reservation ${payment.reservationId} is paid twice`);
    paidReservations.add(payment.reservationId);
    const reservation = contents.reservations.get(payment.reservationId);
    if (reservation?.status !== 'paid')
      violations.push(
        `payment ${payment.id} is of reservation ${payment.reservationId}, which is ${reservation?.status ?? 'missing'}`,
      );
    else if (reservation.userId !== payment.userId || amountOf(reservation) !== payment.amount) {
      violations.push(
        `payment ${payment.id} (${payment.userId}, ${payment.amount}) does not match its reservation (${reservation.userId}, ${amountOf(reservation)})`,
      );
    }
    paidByUser.set(payment.userId, (paidByUser.get(payment.userId) ?? 0) + payment.amount);
  }
  for (const reservation of contents.reservations.values()) {
    if (reservation.status === 'paid' && !paidReservations.has(reservation.id))
      violations.push(`reservation ${reservation.id} is paid without a payment`);
  }
  for (const wallet of contents.wallets.values()) {
    if (!Number.isSafeInteger(wallet.balance) || wallet.balance < 0)
      violations.push(`the balance of ${wallet.userId} is ${wallet.balance}`);
    if (wallet.balance !== wallet.charged - wallet.paid)
      violations.push(
        `the wallet of ${wallet.userId} does not balance: ${wallet.balance} ≠ ${wallet.charged} − ${wallet.paid}`,
      );
    if (wallet.paid !== (paidByUser.get(wallet.userId) ?? 0))
      violations.push(
        `the payments of ${wallet.userId} add up to ${paidByUser.get(wallet.userId) ?? 0}, the wallet says ${wallet.paid}`,
      );
    paidByUser.delete(wallet.userId);
  }
  for (const userId of paidByUser.keys()) violations.push(`${userId} paid without a wallet`);
  return violations;
}
