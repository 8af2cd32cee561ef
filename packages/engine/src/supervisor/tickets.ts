import type { Catalog } from '../catalog/Catalog.js';
import type { EngineConfig } from '../config.js';
import type { HoldBook } from '../holds/HoldBook.js';
import type { IdempotencyKeys } from '../idempotency/IdempotencyKeys.js';
import { newId } from '../ids.js';
import type { Lifecycles } from '../machines/lifecycles.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { ReservationRecord, TicketRecord } from '../persistence/records.js';
import type { Decision, StateChange } from '../rules/changes.js';
import { ticketsOf } from '../rules/orders.js';
import {
  checkClaims,
  checkRefund,
  checkTransfer,
  decideCheckIn,
  decideListTickets,
  decideRefund,
  decideTransfer,
  ticketsForPayment,
} from '../rules/tickets.js';
import { TicketBook } from '../tickets/TicketBook.js';
import type { CheckIn, Ticket } from '../types.js';
import type { Ledger } from '../wallets/Ledger.js';
import type { CommandOf } from './commands.js';

/** What the ticket commands use of the supervisor's state. */
export interface TicketDeskParts {
  readonly config: EngineConfig;
  readonly lifecycles: Lifecycles;
  readonly catalog: Catalog;
  readonly holds: HoldBook;
  readonly ledger: Ledger;
  readonly keys: IdempotencyKeys;
  /** Applies a decision's changes (the supervisor's `#decided`), answers its answer. */
  readonly decided: <A>(decision: Decision<A>, tx: ChangeSet) => A;
  /**
   * Seats the user still awaits on the schedule's waitlist (quantity − offered): joining
   * counted them for `MAX_TICKETS_PER_USER` and offers do not check it again, so a
   * transfer's receiver counts them too.
   */
  readonly awaited?: (userId: string, scheduleId: string) => number;
}

type TicketChange = Extract<
  StateChange,
  { type: 'ticketsIssued' | 'ticketChanged' | 'walletRefunded' | 'seatFreed' }
>;

/**
 * The ticket commands of the embedded engine (SPEC §11) and the changes they
 * make: tickets in memory ({@link TicketBook}) and in the journal, like
 * everything the supervisor owns. Each command reads the view its rule
 * (`rules/tickets.ts`) needs, lets it decide, and applies what it decided.
 */
export class TicketDesk {
  readonly tickets = new TicketBook();
  readonly #parts: TicketDeskParts;

  constructor(parts: TicketDeskParts) {
    this.#parts = parts;
  }

  /** The user's live tickets (for `MAX_TICKETS_PER_USER` with their holds). */
  ticketsOfUser(
    reservations: Iterable<ReservationRecord>,
    userId: string,
    scheduleId: string,
    now: number,
  ): number {
    return ticketsOf(
      reservations,
      this.tickets.of(userId),
      userId,
      scheduleId,
      now,
      this.#parts.lifecycles,
    );
  }

  listTickets({ userId }: CommandOf<'listTickets'>): readonly Ticket[] {
    return decideListTickets(userId, typeof userId === 'string' ? this.tickets.of(userId) : []);
  }

  checkIn({ claims }: CommandOf<'checkIn'>, now: number, tx: ChangeSet): CheckIn {
    const checked = checkClaims(claims);
    return this.#parts.decided(
      decideCheckIn(
        { ticket: this.tickets.find(checked.tid) },
        checked,
        now,
        this.#parts.lifecycles,
      ),
      tx,
    );
  }

  refundTicket(raw: CommandOf<'refundTicket'>, now: number, tx: ChangeSet): Ticket {
    const command = checkRefund(raw);
    const ticket = this.tickets.find(command.ticketId);
    const startsAt = ticket
      ? Date.parse(this.#parts.catalog.schedule(ticket.scheduleId)!.record.startsAt)
      : 0;
    const stored =
      'userId' in command.by
        ? this.#parts.keys.find(command.by.userId, command.idempotencyKey)
        : undefined;
    return this.#parts.decided(
      decideRefund(
        {
          ticket,
          stored,
          startsAt,
          balance: ticket ? this.#parts.ledger.balanceOf(ticket.holder) : 0,
        },
        command,
        now,
        this.#parts.config,
        this.#parts.lifecycles,
      ),
      tx,
    );
  }

  transferTicket(raw: CommandOf<'transferTicket'>, now: number, tx: ChangeSet): Ticket {
    const command = checkTransfer(raw);
    const ticket = this.tickets.find(command.ticketId);
    const receiverTickets = ticket
      ? this.ticketsOfUser(
          this.#parts.holds.liveOf(command.toUserId),
          command.toUserId,
          ticket.scheduleId,
          now,
        ) + (this.#parts.awaited?.(command.toUserId, ticket.scheduleId) ?? 0)
      : 0;
    const stored = this.#parts.keys.find(command.userId, command.idempotencyKey);
    return this.#parts.decided(
      decideTransfer(
        { ticket, stored, receiverTickets },
        command,
        now,
        this.#parts.config,
        this.#parts.lifecycles,
        newId(),
      ),
      tx,
    );
  }

  apply(change: TicketChange, tx: ChangeSet): void {
    switch (change.type) {
      case 'ticketsIssued':
        return this.tickets.issue(change.tickets, tx);
      case 'ticketChanged':
        return void this.tickets.change(change, tx);
      case 'walletRefunded':
        return this.#parts.ledger.refund(change.userId, change.amount, tx);
      case 'seatFreed':
        return this.#parts.holds.freeSeat(change.reservationId, change.seatNo);
    }
  }

  /**
   * Tickets from a store (before the reservations, whose refunded seats they
   * name), and for a paid reservation of a store written before tickets
   * existed, its tickets now (in `tx`; the ids are the payment's own).
   */
  restore(records: Iterable<TicketRecord>): void {
    this.tickets.restore(records);
  }

  /** Issues the tickets of paid reservations that have none (stores written before tickets). */
  issueMissing(reservations: Iterable<ReservationRecord>, tx: ChangeSet): void {
    for (const reservation of reservations) {
      if (reservation.status !== 'paid' || this.tickets.issuedFor(reservation.id)) continue;
      const schedule = this.#parts.catalog.schedule(reservation.scheduleId)!;
      this.tickets.issue(
        ticketsForPayment(reservation, schedule.record.concertId, reservation.createdAt),
        tx,
      );
    }
  }
}
