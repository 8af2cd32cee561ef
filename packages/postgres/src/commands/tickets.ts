import type {
  CheckIn,
  IdempotencyOptions,
  Ticket,
  TicketActor,
  TicketClaims,
  TicketRecord,
  TicketStatus,
} from '@usher/engine';
import {
  checkClaims,
  checkRefund,
  checkTransfer,
  decideCheckIn,
  decideListTickets,
  decideRefund,
  decideTransfer,
  requireUserId,
  seatsFreedBy,
  type Decision,
} from '@usher/engine/rules';
import { applyKind, changesOf, type ApplyCall } from '../applies.js';
import type { CommandRunner } from '../CommandRunner.js';
import { query } from '../database.js';
import { idempotencyRecord, orderedLike, type ViewKind } from '../reads.js';
import { newId } from './issueToken.js';
import {
  headOf,
  offersOf,
  WAITLIST_HEAD_EXTRA,
  waitlistHeadColumns,
  type HeadRow,
  type OfferArgs,
} from './offers.js';
import { keyFields } from './wallet.js';

/**
 * The ticket commands (SPEC §11, migration 8): list, check in, refund,
 * transfer. Each reads its view in one statement (batched with the others of
 * its kind), lets the shared rule (`@usher/engine/rules`, `tickets.ts`)
 * decide, and applies the decision with its `usher_apply` overload, which
 * moves the ticket out of `valid` only if it still is: of concurrent
 * commands on one ticket, on any gateways, one applies; the others read
 * again and the rule answers them as things now are. A payment's tickets
 * are written with the payment (`commands/pay.ts`).
 */

/** A ticket row's columns with its concert (`t`: tickets, `s`: its schedule). */
const TICKET_COLUMNS = `t.id, t.reservation_id, t.schedule_id, s.concert_id, t.seat_no, t.price, t.holder, t.status,
  t.created_at, t.checked_in_at, t.ended_at, t.refunded_by, t.transferred_to, t.transferred_from`;

/** The ticket `q.p1` as JSON, with its schedule's `startsAt`. */
const TICKET = `(SELECT row_to_json(x) FROM (SELECT ${TICKET_COLUMNS}, s.starts_at
    FROM tickets t JOIN schedules s ON s.id = t.schedule_id WHERE t.id = q.p1) x) AS ticket`;

/** A user's stored answer (`p2` the user, `p3` the key). */
const STORED_OF_USER = `(SELECT json_build_object('fingerprint', fingerprint, 'result', result, 'created_at', created_at)
    FROM idempotency_keys WHERE user_id = q.p2 AND key = q.p3) AS stored`;

/** What the ticket commands read (no queue token: `''`). */
export const TICKET_VIEWS = {
  checkIn: { name: 'checkIn', params: ['text'], columns: TICKET },
  // holder_balance: a refund never carries it past Number.MAX_SAFE_INTEGER.
  refund: {
    name: 'refund',
    params: ['text', 'text', 'text'],
    // And the head of the ticket's schedule's waitlist (SPEC §11): its seat goes to the first entry
    // (the second, when the first is the holder: see offers.ts, WAITLIST_HEAD_EXTRA).
    columns: `${TICKET}, ${STORED_OF_USER},
      (SELECT w.balance FROM wallets w JOIN tickets h ON h.holder = w.user_id WHERE h.id = q.p1) AS holder_balance,
      ${waitlistHeadColumns('(SELECT schedule_id FROM tickets WHERE id = q.p1)', `1 + ${WAITLIST_HEAD_EXTRA}`)}`,
  },
  // p4: the receiver, whose tickets of the ticket's schedule count (MAX_TICKETS_PER_USER).
  transfer: {
    name: 'transfer',
    params: ['text', 'text', 'text', 'text'],
    columns: `${TICKET}, ${STORED_OF_USER},
      usher_ticket_count(q.p4, (SELECT schedule_id FROM tickets WHERE id = q.p1), q.now) AS receiver_tickets,
      (SELECT w.quantity - w.offered FROM waitlist w
        WHERE w.user_id = q.p4 AND w.schedule_id = (SELECT schedule_id FROM tickets WHERE id = q.p1)) AS receiver_awaited`,
  },
} as const satisfies Record<string, ViewKind>;

/** The keys of a Ticket, in the order `ticketView` builds them (stored answers come back from `jsonb` reordered). */
const TICKET_KEYS = [
  'id',
  'reservationId',
  'scheduleId',
  'concertId',
  'seatNo',
  'price',
  'holder',
  'status',
  'createdAt',
  'checkedInAt',
  'refundedAt',
  'transferredAt',
];

const optional = (value: unknown): number | undefined =>
  value === null || value === undefined ? undefined : Number(value);

/** A ticket row (as {@link TICKET_COLUMNS} reads it) as the rules' record. */
export function ticketRecord(row: Record<string, unknown>): TicketRecord {
  const checkedInAt = optional(row['checked_in_at']);
  const endedAt = optional(row['ended_at']);
  return {
    id: String(row['id']),
    reservationId: String(row['reservation_id']),
    scheduleId: String(row['schedule_id']),
    concertId: String(row['concert_id']),
    seatNo: Number(row['seat_no']),
    price: Number(row['price']),
    holder: String(row['holder']),
    status: row['status'] as TicketStatus,
    createdAt: Number(row['created_at']),
    ...(checkedInAt === undefined ? {} : { checkedInAt }),
    ...(endedAt === undefined ? {} : { endedAt }),
    ...(row['refunded_by'] ? { refundedBy: row['refunded_by'] as 'holder' | 'operator' } : {}),
    ...(row['transferred_to'] ? { transferredTo: String(row['transferred_to']) } : {}),
    ...(row['transferred_from'] ? { transferredFrom: String(row['transferred_from']) } : {}),
  };
}

/** Every ticket, for `readContents` (the same columns and mapping as the commands'). */
export const ALL_TICKETS = `SELECT ${TICKET_COLUMNS} FROM tickets t JOIN schedules s ON s.id = t.schedule_id ORDER BY t.created_at, t.id`;

/** A stored answer of `userId` for `key`, as the rules take it (keys in the Ticket's order). */
function storedTicket(stored: unknown, userId: string, key: string | undefined) {
  const record =
    key === undefined
      ? undefined
      : idempotencyRecord(stored as Record<string, unknown> | null, userId, key);
  return (
    record && {
      ...record,
      result: orderedLike<Ticket>(TICKET_KEYS, record.result as Record<string, unknown>),
    }
  );
}

/** `usher_check_in`'s fields (migration 8). */
export interface CheckInArgs {
  readonly now: number;
  readonly ticket_id: string;
  readonly at: number;
}
export const CHECK_IN = applyKind<CheckInArgs>('usher_check_in');

/** `usher_refund`'s fields (migration 8). */
export interface RefundArgs {
  readonly now: number;
  /** The holder, whose wallet gets the price back. */
  readonly user_id: string;
  readonly ticket_id: string;
  readonly amount: number;
  readonly at: number;
  readonly refunded_by: 'holder' | 'operator';
  readonly key: string | null;
  readonly fingerprint: string | null;
  readonly result: unknown;
}
export const REFUND = applyKind<RefundArgs>('usher_refund');

/** `usher_refund_offers`' fields (migration 9): the refund and the offer of its seat, in one transaction. */
export interface RefundOffersArgs extends RefundArgs, OfferArgs {}
export const REFUND_OFFERS = applyKind<RefundOffersArgs>('usher_refund_offers');

/** `usher_transfer`'s fields (migration 8). */
export interface TransferArgs {
  readonly now: number;
  readonly user_id: string;
  readonly to_user_id: string;
  /** The receiver's tickets of the schedule, as the decision read them. */
  readonly to_tickets: number;
  readonly ticket_id: string;
  readonly new_id: string;
  readonly at: number;
  readonly key: string | null;
  readonly fingerprint: string | null;
  readonly result: unknown;
}
export const TRANSFER = applyKind<TransferArgs>('usher_transfer');

/** The apply of a check-in decision. */
export function checkInApply(
  decision: Decision<unknown>,
  now: number,
  holder: string,
): ApplyCall<CheckInArgs> | undefined {
  const changed = changesOf(decision, ['ticketChanged']).ticketChanged;
  if (!changed) return undefined;
  if (changed.status !== 'checked_in') throw new Error('a check-in checks in');
  return { kind: CHECK_IN, user: holder, args: { now, ticket_id: changed.id, at: changed.at } };
}

/** The apply of a refund decision: the ticket refunded, the holder credited, the seat freed, the key. */
export function refundApply(
  decision: Decision<unknown>,
  now: number,
  ticket: TicketRecord,
  offers: OfferArgs,
): ApplyCall<RefundOffersArgs> | undefined {
  const changes = changesOf(decision, [
    'ticketChanged',
    'walletRefunded',
    'seatFreed',
    'keyRemembered',
  ]);
  const changed = changes.ticketChanged;
  if (!changed) return undefined;
  const credited = changes.walletRefunded;
  const freed = changes.seatFreed;
  if (
    changed.status !== 'refunded' ||
    changed.id !== ticket.id ||
    !credited ||
    credited.userId !== ticket.holder ||
    !freed ||
    freed.reservationId !== ticket.reservationId ||
    freed.seatNo !== ticket.seatNo
  )
    throw new Error('a refund credits the holder and frees the seat of its own ticket');
  if (offers.schedule_id !== freed.scheduleId)
    throw new Error("a refund's seat goes to its own schedule's waitlist");
  return {
    kind: REFUND_OFFERS,
    user: ticket.holder,
    args: {
      now,
      user_id: ticket.holder,
      ticket_id: ticket.id,
      amount: credited.amount,
      at: changed.at,
      refunded_by: changed.refundedBy ?? 'holder',
      ...keyFields(changes.keyRemembered),
      ...offers,
    },
  };
}

/** The apply of a transfer decision: the ticket transferred, the receiver's new one, the key. */
export function transferApply(
  decision: Decision<unknown>,
  now: number,
  ticket: TicketRecord,
  receiverTickets: number,
): ApplyCall<TransferArgs> | undefined {
  const changes = changesOf(decision, ['ticketChanged', 'ticketsIssued', 'keyRemembered']);
  const changed = changes.ticketChanged;
  if (!changed) return undefined;
  const issued = changes.ticketsIssued?.tickets ?? [];
  const given = issued[0];
  if (
    changed.status !== 'transferred' ||
    changed.id !== ticket.id ||
    issued.length !== 1 ||
    !given ||
    given.id !== changed.transferredTo ||
    given.transferredFrom !== ticket.id ||
    given.seatNo !== ticket.seatNo ||
    given.price !== ticket.price
  )
    throw new Error('a transfer gives one new ticket of its own seat');
  return {
    kind: TRANSFER,
    user: ticket.holder,
    args: {
      now,
      user_id: ticket.holder,
      to_user_id: given.holder,
      to_tickets: receiverTickets,
      ticket_id: ticket.id,
      new_id: given.id,
      at: changed.at,
      ...keyFields(changes.keyRemembered),
    },
  };
}

/** A view's ticket, or none. */
const ticketOf = (json: unknown): TicketRecord | undefined =>
  json ? ticketRecord(json as Record<string, unknown>) : undefined;

export function listTickets(runner: CommandRunner, userId: string): Promise<readonly Ticket[]> {
  return runner.run(async () => {
    const id = requireUserId(userId);
    const { rows } = await query<Record<string, unknown>>(
      runner.db,
      `SELECT ${TICKET_COLUMNS} FROM tickets t JOIN schedules s ON s.id = t.schedule_id
        WHERE t.holder = $1 ORDER BY t.created_at DESC, t.id`,
      [id],
    );
    return decideListTickets(id, rows.map(ticketRecord));
  });
}

export function checkIn(runner: CommandRunner, claims: TicketClaims): Promise<CheckIn> {
  return runner.run(async (now) => {
    const checked = checkClaims(claims);
    const { answer } = await runner.decide('checkIn', now, undefined, async (db) => {
      const row = await runner.readRow(
        TICKET_VIEWS.checkIn,
        { token: '', now, params: [checked.tid] },
        db,
      );
      const ticket = ticketOf(row['ticket']);
      const decision = decideCheckIn({ ticket }, checked, now, runner.lifecycles);
      const apply = ticket && checkInApply(decision, now, ticket.holder);
      return apply ? { decision, apply } : { decision };
    });
    return answer;
  });
}

export function refundTicket(
  runner: CommandRunner,
  ticketId: string,
  by: TicketActor,
  options: IdempotencyOptions = {},
): Promise<Ticket> {
  return runner.run(async (now) => {
    const command = checkRefund({ ticketId, by, idempotencyKey: options.idempotencyKey });
    const user = 'userId' in command.by ? command.by.userId : undefined;
    const { answer } = await runner.decide('refund', now, user, async (db) => {
      const row = await runner.readRow(
        TICKET_VIEWS.refund,
        { token: '', now, params: [command.ticketId, user ?? '', command.idempotencyKey ?? ''] },
        db,
      );
      const json = row['ticket'] as Record<string, unknown> | null;
      const ticket = ticketOf(json);
      const view = {
        ticket,
        stored:
          user === undefined
            ? undefined
            : storedTicket(row['stored'], user, command.idempotencyKey),
        startsAt: json ? Date.parse(String(json['starts_at'])) : 0,
        balance: Number(row['holder_balance'] ?? 0),
      };
      const decision = decideRefund(view, command, now, runner.config, runner.lifecycles);
      if (!ticket || decision.changes.length === 0) return { decision };
      // The seat freed goes to the schedule's waitlist first (SPEC §11), in the refund's transaction.
      const freed = seatsFreedBy(decision.changes, () => undefined);
      const { head, schedule } = headOf(row as Partial<HeadRow>);
      const offers = offersOf(ticket.scheduleId, freed, head, schedule, now, runner.lifecycles);
      const apply = refundApply(decision, now, ticket, offers.args);
      const offered = { ...decision, changes: [...decision.changes, ...offers.changes] };
      return apply ? { decision: offered, apply } : { decision };
    });
    return answer;
  });
}

export function transferTicket(
  runner: CommandRunner,
  ticketId: string,
  transfer: { readonly userId: string; readonly toUserId: string },
  options: IdempotencyOptions = {},
): Promise<Ticket> {
  return runner.run(async (now) => {
    const command = checkTransfer({
      ticketId,
      userId: transfer?.userId,
      toUserId: transfer?.toUserId,
      idempotencyKey: options.idempotencyKey,
    });
    const newTicketId = newId();
    const { answer } = await runner.decide('transfer', now, command.userId, async (db) => {
      const row = await runner.readRow(
        TICKET_VIEWS.transfer,
        {
          token: '',
          now,
          params: [
            command.ticketId,
            command.userId,
            command.idempotencyKey ?? '',
            command.toUserId,
          ],
        },
        db,
      );
      const ticket = ticketOf(row['ticket']);
      const receiverTickets = Number(row['receiver_tickets'] ?? 0);
      const view = {
        ticket,
        stored: storedTicket(row['stored'], command.userId, command.idempotencyKey),
        // Plus the seats the receiver still awaits on the date's waitlist: joining counted them, offers
        // do not check the limit again (the apply re-checks the tickets it read, not these).
        receiverTickets: receiverTickets + Number(row['receiver_awaited'] ?? 0),
      };
      const decision = decideTransfer(
        view,
        command,
        now,
        runner.config,
        runner.lifecycles,
        newTicketId,
      );
      const apply = ticket && transferApply(decision, now, ticket, receiverTickets);
      return apply ? { decision, apply } : { decision };
    });
    return answer;
  });
}
