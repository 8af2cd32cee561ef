import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { TicketRecord } from '../persistence/records.js';
import type { StateChange } from '../rules/changes.js';

/** The key of one seat of one reservation, as {@link TicketBook.refundedSeats} lists them. */
export const seatKey = (reservationId: string, seatNo: number): string =>
  `${reservationId}#${seatNo}`;

/**
 * Every ticket (SPEC §11), by id and by holder. Tickets are never deleted:
 * a refunded or transferred one stays, as such, for its holder's list and
 * for the invariants. What to change is decided by the rules
 * (`rules/tickets.ts`); this only applies it, and refuses (as a fault) what
 * would break the ticket machine: a second ticket with one id, a ticket
 * leaving a state other than `valid`.
 */
export class TicketBook {
  readonly #tickets = new Map<string, TicketRecord>();
  readonly #byHolder = new Map<string, Set<TicketRecord>>();
  /** Reservations with tickets. */
  readonly #issuedFor = new Set<string>();

  get size(): number {
    return this.#tickets.size;
  }

  find(id: string): TicketRecord | undefined {
    return this.#tickets.get(id);
  }

  /** Every ticket the user holds or held (transferred away, refunded). */
  of(userId: string): Iterable<TicketRecord> {
    return this.#byHolder.get(userId) ?? [];
  }

  /** Whether tickets were issued for the reservation (a payment issues one per seat, at once). */
  issuedFor(reservationId: string): boolean {
    return this.#issuedFor.has(reservationId);
  }

  issue(tickets: readonly TicketRecord[], tx: ChangeSet): void {
    for (const ticket of tickets)
      if (this.#tickets.has(ticket.id)) throw new Error(`ticket ${ticket.id} exists already`);
    for (const ticket of tickets) {
      this.#add(ticket);
      tx.put('tickets', ticket.id, ticket);
    }
  }

  /** `valid →` the decided status; anything but a valid ticket is a fault. */
  change(change: Extract<StateChange, { type: 'ticketChanged' }>, tx: ChangeSet): TicketRecord {
    const ticket = this.#tickets.get(change.id);
    if (ticket?.status !== 'valid')
      throw new Error(`ticket ${change.id} is ${ticket?.status ?? 'missing'}, not valid`);
    ticket.status = change.status;
    if (change.status === 'checked_in') ticket.checkedInAt = change.at;
    else ticket.endedAt = change.at;
    if (change.refundedBy !== undefined) ticket.refundedBy = change.refundedBy;
    if (change.transferredTo !== undefined) ticket.transferredTo = change.transferredTo;
    tx.put('tickets', ticket.id, ticket);
    return ticket;
  }

  /** The seats whose tickets were refunded (keys of {@link seatKey}): no longer their reservation's. */
  refundedSeats(): Set<string> {
    const seats = new Set<string>();
    for (const ticket of this.#tickets.values())
      if (ticket.status === 'refunded') seats.add(seatKey(ticket.reservationId, ticket.seatNo));
    return seats;
  }

  restore(records: Iterable<TicketRecord>): void {
    for (const ticket of records) this.#add(ticket);
  }

  #add(ticket: TicketRecord): void {
    this.#tickets.set(ticket.id, ticket);
    this.#issuedFor.add(ticket.reservationId);
    let held = this.#byHolder.get(ticket.holder);
    if (!held) this.#byHolder.set(ticket.holder, (held = new Set()));
    held.add(ticket);
  }
}
