import type { ExecutionContext } from 'ava';
import type { StoreContents } from '@usher/engine';

/**
 * Checks SPEC §5 invariants 1 and 2 on what a store durably holds:
 * no seat is held or sold by two reservations, every wallet balances
 * (`balance = charged − paid >= 0`), and payments add up per user.
 */
export function assertInvariants(t: ExecutionContext, contents: StoreContents): void {
  const claims = new Map<string, string>();
  for (const reservation of contents.reservations.values()) {
    if (reservation.status !== 'held' && reservation.status !== 'paid') continue;
    const seat = `${reservation.scheduleId}#${reservation.seatNo}`;
    const other = claims.get(seat);
    t.is(other, undefined, `seat ${seat} is claimed by ${other} and ${reservation.id}`);
    claims.set(seat, reservation.id);
  }
  const paidByUser = new Map<string, number>();
  const paymentPerReservation = new Set<string>();
  for (const payment of contents.payments.values()) {
    t.false(paymentPerReservation.has(payment.reservationId), `reservation ${payment.reservationId} paid twice`);
    paymentPerReservation.add(payment.reservationId);
    t.is(contents.reservations.get(payment.reservationId)?.status, 'paid');
    paidByUser.set(payment.userId, (paidByUser.get(payment.userId) ?? 0) + payment.amount);
  }
  for (const wallet of contents.wallets.values()) {
    t.true(Number.isSafeInteger(wallet.balance) && wallet.balance >= 0, `balance of ${wallet.userId} is ${wallet.balance}`);
    t.is(wallet.balance, wallet.charged - wallet.paid, `wallet of ${wallet.userId} does not balance`);
    t.is(wallet.paid, paidByUser.get(wallet.userId) ?? 0, `payments of ${wallet.userId} do not add up`);
  }
}
