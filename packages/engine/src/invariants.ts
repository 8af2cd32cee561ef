import type { StoreContents } from './persistence/Store.js';
import { amountOf, seatsOf } from './rules/orders.js';

/**
 * SPEC §5's invariants 1 and 2 (with §11's tickets and refunds) on what an engine durably holds, as a list of
 * violations (empty when all hold): no seat is held or sold by two
 * reservations (seat by seat, a reservation may hold several); every payment
 * is of a paid reservation, by its holder, at its amount, one per reservation; every paid reservation has its payment;
 * every wallet balances (`balance = charged − paid + refunded ≥ 0`) and its
 * payments and refunds add up; tickets as {@link ticketViolations} says, waitlists as {@link waitlistViolations}. One check for every suite, both engines and the bench.
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
  // Seats of paid reservations whose ticket was refunded (SPEC §11) are no longer theirs.
  const refunded = new Set<string>();
  for (const ticket of contents.tickets.values())
    if (ticket.status === 'refunded') refunded.add(`${ticket.reservationId}#${ticket.seatNo}`);
  for (const reservation of contents.reservations.values()) {
    if (reservation.status !== 'held' && reservation.status !== 'paid') continue;
    const seats = seatsOf(reservation);
    if (seats[0]?.seatNo !== reservation.seatNo)
      violations.push(`reservation ${reservation.id} says seat ${reservation.seatNo} first`);
    let amount = 0;
    for (const { seatNo, price } of seats) {
      amount += price;
      if (refunded.has(`${reservation.id}#${seatNo}`)) {
        if (reservation.status !== 'paid')
          violations.push(`seat ${seatNo} of held reservation ${reservation.id} has a ticket`);
        continue;
      }
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
  const refundedByUser = ticketViolations(contents, claims, violations);
  waitlistViolations(contents, claims, violations);
  for (const wallet of contents.wallets.values()) {
    const refunds = wallet.refunded ?? 0;
    if (!Number.isSafeInteger(wallet.balance) || wallet.balance < 0)
      violations.push(`the balance of ${wallet.userId} is ${wallet.balance}`);
    if (wallet.balance !== wallet.charged - wallet.paid + refunds)
      violations.push(
        `the wallet of ${wallet.userId} does not balance: ${wallet.balance} ≠ ${wallet.charged} − ${wallet.paid} + ${refunds}`,
      );
    if (refunds !== (refundedByUser.get(wallet.userId) ?? 0))
      violations.push(
        `the refunded tickets of ${wallet.userId} add up to ${refundedByUser.get(wallet.userId) ?? 0}, the wallet says ${refunds}`,
      );
    refundedByUser.delete(wallet.userId);
    if (wallet.paid !== (paidByUser.get(wallet.userId) ?? 0))
      violations.push(
        `the payments of ${wallet.userId} add up to ${paidByUser.get(wallet.userId) ?? 0}, the wallet says ${wallet.paid}`,
      );
    paidByUser.delete(wallet.userId);
  }
  for (const userId of paidByUser.keys()) violations.push(`${userId} paid without a wallet`);
  for (const userId of refundedByUser.keys())
    violations.push(`${userId} was refunded without a wallet`);
  return violations;
}

/**
 * SPEC §11 on tickets: every ticket is of a seat of a paid reservation, at
 * its price; each seat of a paid reservation that has tickets has exactly one
 * that is not `transferred` (valid, checked in, or refunded: the end of its
 * chain), and a live one (valid, checked in) only while the seat is still
 * its reservation's; so no seat is in two valid tickets, nor in a valid
 * ticket and a live hold. A transferred ticket names its successor (same
 * seat) and was never checked in. Answers each user's refunds (Σ prices of
 * their refunded tickets). A paid reservation with no ticket at all was
 * written before tickets existed.
 */
function ticketViolations(
  contents: StoreContents,
  claims: ReadonlyMap<string, string>,
  violations: string[],
): Map<string, number> {
  const refundedByUser = new Map<string, number>();
  const ends = new Map<string, number>();
  const withTickets = new Set<string>();
  for (const ticket of contents.tickets.values()) {
    const seat = `${ticket.reservationId}#${ticket.seatNo}`;
    withTickets.add(ticket.reservationId);
    const reservation = contents.reservations.get(ticket.reservationId);
    const paidSeat =
      reservation?.status === 'paid'
        ? seatsOf(reservation).find((s) => s.seatNo === ticket.seatNo)
        : undefined;
    if (!paidSeat || reservation!.scheduleId !== ticket.scheduleId)
      violations.push(`ticket ${ticket.id} is not of a seat of a paid reservation`);
    else if (paidSeat.price !== ticket.price)
      violations.push(`ticket ${ticket.id} costs ${ticket.price}, its seat ${paidSeat.price}`);
    if (ticket.status === 'transferred') {
      const next =
        ticket.transferredTo === undefined ? undefined : contents.tickets.get(ticket.transferredTo);
      if (next?.reservationId !== ticket.reservationId || next.seatNo !== ticket.seatNo)
        violations.push(`transferred ticket ${ticket.id} names no successor of its seat`);
      if (ticket.checkedInAt !== undefined)
        violations.push(`transferred ticket ${ticket.id} was checked in`);
      continue;
    }
    ends.set(seat, (ends.get(seat) ?? 0) + 1);
    if (ticket.status === 'refunded')
      refundedByUser.set(ticket.holder, (refundedByUser.get(ticket.holder) ?? 0) + ticket.price);
    else if (claims.get(`${ticket.scheduleId}#${ticket.seatNo}`) !== ticket.reservationId)
      violations.push(`${ticket.status} ticket ${ticket.id} is of a seat its reservation lost`);
  }
  for (const reservation of contents.reservations.values()) {
    if (reservation.status !== 'paid' || !withTickets.has(reservation.id)) continue;
    for (const { seatNo } of seatsOf(reservation)) {
      const count = ends.get(`${reservation.id}#${seatNo}`) ?? 0;
      if (count !== 1)
        violations.push(
          `seat ${seatNo} of paid reservation ${reservation.id} has ${count} tickets not transferred`,
        );
    }
  }
  return refundedByUser;
}

/**
 * SPEC §11 on waitlists: an entry never has `offered > quantity` (nor
 * reaches it: a fulfilled entry is removed), a user has at most one entry
 * per schedule, and a schedule with someone waiting has no seat for sale
 * (freed seats go to the waitlist first). Offered holds are holds: the seat
 * checks above cover them.
 */
function waitlistViolations(
  contents: StoreContents,
  claims: ReadonlyMap<string, string>,
  violations: string[],
): void {
  const entries = new Set<string>();
  const waiting = new Set<string>();
  for (const entry of contents.waitlist.values()) {
    const key = JSON.stringify([entry.scheduleId, entry.userId]);
    if (entries.has(key))
      violations.push(`${entry.userId} is on the waitlist of ${entry.scheduleId} twice`);
    entries.add(key);
    if (
      !Number.isSafeInteger(entry.offered) ||
      entry.offered < 0 ||
      entry.offered >= entry.quantity
    )
      violations.push(
        `the waitlist entry of ${entry.userId} on ${entry.scheduleId} was offered ${entry.offered} of ${entry.quantity}`,
      );
    else waiting.add(entry.scheduleId);
  }
  for (const scheduleId of waiting) {
    const schedule = contents.schedules.get(scheduleId);
    if (!schedule) {
      violations.push(`a waitlist names unknown schedule ${scheduleId}`);
      continue;
    }
    let free = 0;
    for (let seatNo = 1; seatNo <= schedule.totalSeats; seatNo++)
      if (!claims.has(`${scheduleId}#${seatNo}`)) free++;
    if (free > 0)
      violations.push(`schedule ${scheduleId} has ${free} seats for sale while users wait for one`);
  }
}
