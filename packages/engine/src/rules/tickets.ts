/**
 * Ticket rules (SPEC §11): tickets issued at payment, check-in at the door,
 * refunds, transfers. Pure: state + command + time in, changes + answer out,
 * or an `EngineError`. Both engines call them; the ticket lifecycle is the
 * ticket machine's (`valid → checked_in | refunded | transferred`).
 *
 * Who asks is settled before a rule runs: the HTTP layer names the user (the
 * owner of a known queue token, or a signed-in user) and, for check-in,
 * verifies the code's signature and passes its claims. The rules take user
 * ids and claims, never tokens or signatures.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import type { Lifecycles } from '../machines/lifecycles.js';
import type {
  IdempotencyRecord,
  ReservationRecord,
  TicketRecord,
  TicketStatus,
} from '../persistence/records.js';
import type { CheckIn, Ticket, TicketActor, TicketClaims } from '../types.js';
import { requireId, requireInteger, requireUserId } from '../validate.js';
import { ticketView } from '../views.js';
import { unchanged, type Decision, type StateChange } from './changes.js';
import { seatsOf } from './orders.js';
import { checkKey, replayOf } from './wallets.js';

/**
 * The id of the ticket a payment issues for one seat of a reservation:
 * deterministic, so that both engines (and a store written before tickets
 * existed, on restore or by migration) issue the same ids. Unique: a seat
 * number has no `-`, so the last `-` splits it off.
 */
export const ticketIdOf = (reservationId: string, seatNo: number): string =>
  `${reservationId}-${seatNo}`;

/** The tickets paying `reservation` issues to `holder` at `now`: one per seat, at the seat's price. */
export function ticketsForPayment(
  reservation: ReservationRecord,
  concertId: string,
  now: number,
): TicketRecord[] {
  return seatsOf(reservation).map(({ seatNo, price }) => ({
    id: ticketIdOf(reservation.id, seatNo),
    reservationId: reservation.id,
    scheduleId: reservation.scheduleId,
    concertId,
    seatNo,
    price,
    holder: reservation.userId,
    status: 'valid',
    createdAt: now,
  }));
}

/** A ticket counts for `MAX_TICKETS_PER_USER` (and holds its seat) while `valid` or `checked_in`. */
export const isLiveTicket = (status: TicketStatus): boolean =>
  status === 'valid' || status === 'checked_in';

export const ticketNotFound = (ticketId: string): EngineError =>
  new EngineError('TICKET_NOT_FOUND', `no ticket "${ticketId}"`);
export const ticketInvalid = (): EngineError =>
  new EngineError('TICKET_INVALID', 'this is not a ticket code of ours');
export const ticketVoid = (status: TicketStatus): EngineError =>
  new EngineError(
    'TICKET_VOID',
    `this ticket was ${status === 'refunded' ? 'refunded' : 'transferred to someone else'}`,
  );
export const alreadyCheckedIn = (checkedInAt: number): EngineError =>
  new EngineError('ALREADY_CHECKED_IN', 'this ticket was already checked in', {
    details: { checkedInAt: new Date(checkedInAt).toISOString() },
  });

/** A ticket id argument: 1..`MAX_ID_LENGTH` characters (`VALIDATION_FAILED` otherwise). */
export const requireTicketId = (ticketId: unknown): string => requireId(ticketId, 'ticketId');

/**
 * `GET /tickets`: every ticket `userId` holds or held (refunded and
 * transferred ones included, as such), newest first (then by id, for a
 * stable order). `tickets` are the user's (`holder === userId`).
 */
export function decideListTickets(userId: unknown, tickets: Iterable<TicketRecord>): Ticket[] {
  const id = requireUserId(userId);
  return [...tickets]
    .filter((ticket) => ticket.holder === id)
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(ticketView);
}

/**
 * The claims of a verified code as a check-in takes them: `tid` an id, `sch`
 * an id, `seat` a seat number, `sub` a user id; anything else is
 * `TICKET_INVALID` (a code we signed always has them).
 */
export function checkClaims(claims: unknown): TicketClaims {
  const { tid, sch, seat, sub } = (claims ?? {}) as Record<string, unknown>;
  try {
    return {
      tid: requireId(tid, 'tid'),
      sch: requireId(sch, 'sch'),
      seat: requireInteger(seat, 'seat', 1),
      sub: requireUserId(sub, 'sub'),
    };
  } catch {
    throw ticketInvalid();
  }
}

/**
 * Check-in (SPEC §11) of the ticket a verified code names: `valid →
 * checked_in`, once. A code whose claims do not match the ticket (or that
 * names none) is `TICKET_INVALID`; a checked-in ticket `ALREADY_CHECKED_IN`
 * (with the first `checkedInAt`); a refunded or transferred one `TICKET_VOID`.
 * `view.ticket` is the ticket with id `claims.tid`.
 */
export function decideCheckIn(
  view: { readonly ticket: TicketRecord | undefined },
  claims: TicketClaims,
  now: number,
  lifecycles: Lifecycles,
): Decision<CheckIn> {
  const { ticket } = view;
  if (
    !ticket ||
    ticket.id !== claims.tid ||
    ticket.scheduleId !== claims.sch ||
    ticket.seatNo !== claims.seat ||
    ticket.holder !== claims.sub
  )
    throw ticketInvalid();
  const status = leave(ticket, 'CHECK_IN', lifecycles) as 'checked_in';
  return {
    changes: [{ type: 'ticketChanged', id: ticket.id, status, at: now }],
    answer: {
      ticketId: ticket.id,
      scheduleId: ticket.scheduleId,
      seatNo: ticket.seatNo,
      checkedInAt: new Date(now).toISOString(),
    },
  };
}

/** What a retry of a refund with the same key must ask again. */
export const refundFingerprint = (ticketId: string): string => JSON.stringify(['refund', ticketId]);
/** What a retry of a transfer with the same key must ask again. */
export const transferFingerprint = (ticketId: string, toUserId: string): string =>
  JSON.stringify(['transfer', ticketId, toUserId]);

export interface RefundCommand {
  readonly ticketId: string;
  readonly by: TicketActor;
  /** The holder's key (an operator's refund takes none). */
  readonly idempotencyKey: string | undefined;
}

/** Validates a refund before anything is looked up. */
export function checkRefund(command: {
  ticketId: unknown;
  by: unknown;
  idempotencyKey?: unknown;
}): RefundCommand {
  const ticketId = requireTicketId(command.ticketId);
  const by = command.by as Partial<{ userId: unknown; operator: unknown }> | undefined;
  if (by?.operator === true) {
    if (command.idempotencyKey !== undefined)
      throw new EngineError('VALIDATION_FAILED', "an operator's refund takes no Idempotency-Key");
    return { ticketId, by: { operator: true }, idempotencyKey: undefined };
  }
  return {
    ticketId,
    by: { userId: requireUserId(by?.userId) },
    idempotencyKey: checkKey(command.idempotencyKey),
  };
}

/** What a refund looks at. */
export interface RefundView {
  /** The ticket named by the command. */
  readonly ticket: TicketRecord | undefined;
  /** The holder's key's stored answer (a holder's refund with a key only). */
  readonly stored: IdempotencyRecord | undefined;
  /** The ticket's schedule's `startsAt`, epoch ms (the refund cutoff counts back from it). */
  readonly startsAt: number;
  /** The holder's balance (a refund never carries it past `Number.MAX_SAFE_INTEGER`). */
  readonly balance: number;
}

/**
 * A refund (SPEC §11): `valid → refunded`, the price back to the holder's
 * wallet, the seat free again ({@link freeSeat}), once. The holder refunds
 * their own ticket (another's is `TICKET_NOT_FOUND`) until `refundCutoffMs`
 * before the show (then `REFUND_CLOSED`); an operator any valid ticket, any
 * time. Checked in: `ALREADY_CHECKED_IN`; refunded or transferred:
 * `TICKET_VOID`. `maxBalance` does not apply to money given back, but a
 * balance stays a safe integer: a refund that would carry it past
 * `Number.MAX_SAFE_INTEGER` is `BALANCE_LIMIT` (spend first). With a key, the
 * first answer is replayed.
 */
export function decideRefund(
  view: RefundView,
  command: RefundCommand,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
): Decision<Ticket> {
  const { ticketId, by, idempotencyKey } = command;
  const fingerprint = idempotencyKey === undefined ? '' : refundFingerprint(ticketId);
  if (idempotencyKey !== undefined) {
    const replay = replayOf<Ticket>(view.stored, fingerprint);
    if (replay) return unchanged(replay);
  }
  const { ticket } = view;
  const holder = 'userId' in by;
  if (!ticket || (holder && ticket.holder !== by.userId)) throw ticketNotFound(ticketId);
  if (ticket.status === 'valid' && holder && now > view.startsAt - config.refundCutoffMs)
    throw new EngineError(
      'REFUND_CLOSED',
      `refunds close ${config.refundCutoffMs} ms before the show (${new Date(view.startsAt).toISOString()})`,
    );
  const status = leave(ticket, 'REFUND', lifecycles) as 'refunded';
  if (view.balance + ticket.price > Number.MAX_SAFE_INTEGER)
    throw new EngineError(
      'BALANCE_LIMIT',
      `a refund of ${ticket.price} would carry the balance of ${view.balance} past ${Number.MAX_SAFE_INTEGER}: spend some first`,
    );
  const refundedBy = holder ? 'holder' : 'operator';
  const answer = ticketView({ ...ticket, status, endedAt: now, refundedBy });
  const changes: StateChange[] = [
    { type: 'ticketChanged', id: ticket.id, status, at: now, refundedBy },
    { type: 'walletRefunded', userId: ticket.holder, amount: ticket.price },
    ...freeSeat(ticket),
  ];
  if (idempotencyKey !== undefined && holder)
    changes.push({
      type: 'keyRemembered',
      record: {
        userId: by.userId,
        key: idempotencyKey,
        fingerprint,
        result: answer,
        createdAt: now,
      },
    });
  return { changes, answer };
}

/**
 * What becomes of a sold seat whose ticket ended without a successor (a
 * refund): today, free for anyone (`seatFreed`). The one place freed sold
 * seats go through: the waitlist (SPEC §11) will decide here whether the
 * first waiting user gets it as a hold instead.
 */
export function freeSeat(
  ticket: Pick<TicketRecord, 'scheduleId' | 'seatNo' | 'reservationId'> &
    Partial<Pick<TicketRecord, 'holder'>>,
): StateChange[] {
  return [
    {
      type: 'seatFreed',
      scheduleId: ticket.scheduleId,
      seatNo: ticket.seatNo,
      reservationId: ticket.reservationId,
      cause: 'refund',
      ...(ticket.holder === undefined ? {} : { from: ticket.holder }),
    },
  ];
}

export interface TransferCommand {
  readonly ticketId: string;
  /** The holder, who asks. */
  readonly userId: string;
  readonly toUserId: string;
  readonly idempotencyKey: string | undefined;
}

/** Validates a transfer before anything is looked up: the receiver is a user id, not the holder. */
export function checkTransfer(command: {
  ticketId: unknown;
  userId: unknown;
  toUserId: unknown;
  idempotencyKey?: unknown;
}): TransferCommand {
  const ticketId = requireTicketId(command.ticketId);
  const userId = requireUserId(command.userId);
  const toUserId = requireUserId(command.toUserId, 'toUserId');
  if (toUserId === userId)
    throw new EngineError(
      'VALIDATION_FAILED',
      'toUserId is you: a ticket is transferred to someone else',
    );
  return { ticketId, userId, toUserId, idempotencyKey: checkKey(command.idempotencyKey) };
}

/** What a transfer looks at. */
export interface TransferView {
  /** The ticket named by the command. */
  readonly ticket: TicketRecord | undefined;
  /** The holder's key's stored answer, if a key was given. */
  readonly stored: IdempotencyRecord | undefined;
  /**
   * The receiver's seats of the ticket's schedule for `MAX_TICKETS_PER_USER`
   * ({@link ticketsOf}: held seats plus live tickets), plus the seats they
   * still await on its waitlist (joining counted them; offers do not check
   * the limit again).
   */
  readonly receiverTickets: number;
}

/**
 * A transfer (SPEC §11): the ticket becomes `transferred` and the receiver
 * gets a new `valid` ticket of the same seat (id `newTicketId`, so a new
 * code); the old code is refused at the door. Only the holder transfers
 * (another's ticket is `TICKET_NOT_FOUND`); not once checked in
 * (`ALREADY_CHECKED_IN`) nor refunded or transferred (`TICKET_VOID`); the
 * receiver's `MAX_TICKETS_PER_USER` counts (`TICKET_LIMIT_REACHED`). With a
 * key, the first answer (the receiver's ticket) is replayed.
 */
export function decideTransfer(
  view: TransferView,
  command: TransferCommand,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
  newTicketId: string,
): Decision<Ticket> {
  const { ticketId, userId, toUserId, idempotencyKey } = command;
  const fingerprint = idempotencyKey === undefined ? '' : transferFingerprint(ticketId, toUserId);
  if (idempotencyKey !== undefined) {
    const replay = replayOf<Ticket>(view.stored, fingerprint);
    if (replay) return unchanged(replay);
  }
  const { ticket } = view;
  if (!ticket || ticket.holder !== userId) throw ticketNotFound(ticketId);
  const status = leave(ticket, 'TRANSFER', lifecycles) as 'transferred';
  if (view.receiverTickets + 1 > config.maxTicketsPerUser)
    throw new EngineError(
      'TICKET_LIMIT_REACHED',
      `the receiver may have ${config.maxTicketsPerUser} seats of this date, and has ${view.receiverTickets}`,
    );
  const issued: TicketRecord = {
    id: newTicketId,
    reservationId: ticket.reservationId,
    scheduleId: ticket.scheduleId,
    concertId: ticket.concertId,
    seatNo: ticket.seatNo,
    price: ticket.price,
    holder: toUserId,
    status: lifecycles.ticket.initial as 'valid',
    createdAt: now,
    transferredFrom: ticket.id,
  };
  const answer = ticketView(issued);
  const changes: StateChange[] = [
    { type: 'ticketChanged', id: ticket.id, status, at: now, transferredTo: newTicketId },
    { type: 'ticketsIssued', tickets: [issued] },
  ];
  if (idempotencyKey !== undefined)
    changes.push({
      type: 'keyRemembered',
      record: { userId, key: idempotencyKey, fingerprint, result: answer, createdAt: now },
    });
  return { changes, answer };
}

/**
 * The ticket machine's next state for `event`; a ticket that has left
 * `valid` refuses: checked in `ALREADY_CHECKED_IN`, else `TICKET_VOID`.
 */
function leave(
  ticket: TicketRecord,
  event: 'CHECK_IN' | 'REFUND' | 'TRANSFER',
  lifecycles: Lifecycles,
): TicketStatus {
  const next = lifecycles.ticket.next(ticket.status, event);
  if (next !== undefined) return next;
  if (ticket.status === 'checked_in') throw alreadyCheckedIn(ticket.checkedInAt ?? 0);
  throw ticketVoid(ticket.status);
}
