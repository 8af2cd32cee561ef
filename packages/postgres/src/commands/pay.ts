import type { IdempotencyOptions, Payment } from '@usher/engine';
import { checkPay, decidePay, isOffer, type Decision } from '@usher/engine/rules';
import { applyKind, changesOf, type ApplyCall } from '../applies.js';
import type { CommandRunner } from '../CommandRunner.js';
import { RESERVATION_COLUMNS, reservationRecord, type ViewKind } from '../reads.js';
import { requireRouteRoom, routeConcertColumn, type RouteConcert } from '../roomRoutes.js';
import { newId } from './issueToken.js';
import { keyFields, STORED, storedAnswer } from './wallet.js';

/** What paying reads beside the token: the stored answer for its key (`p1`), the reservation (`p2`), the balance, the live holds. */
export const PAY_VIEW: ViewKind = {
  name: 'pay',
  params: ['text', 'text'],
  columns: `${STORED},
      (SELECT row_to_json(r) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = q.p2) r) AS reservation,
      ${routeConcertColumn('(SELECT schedule_id FROM reservations WHERE id = q.p2)')},
      usher_balance(tk.user_id) AS balance,
      usher_live_holds(tk.user_id, q.now) AS held,
      (SELECT s.concert_id FROM reservations r JOIN schedules s ON s.id = r.schedule_id WHERE r.id = q.p2) AS concert_id`,
};

const PAYMENT_KEYS = ['id', 'reservationId', 'userId', 'amount', 'balance', 'createdAt'];

/** `usher_pay`'s fields (migration 1, `applies.ts`). */
export interface PayArgs {
  readonly now: number;
  readonly user_id: string;
  readonly token: string;
  /** The user's live holds and balance, as the decision read them. */
  readonly held: number;
  readonly balance: number;
  readonly reservation_id: string;
  readonly paid_at: number;
  readonly payment_id: string;
  readonly amount: number;
  readonly new_balance: number;
  readonly created_at: number;
  readonly key: string | null;
  readonly fingerprint: string | null;
  readonly result: unknown;
  /** The token completes (expires), kept until then for replays. */
  readonly keep_until: number | null;
}
export const PAY = applyKind<PayArgs>('usher_pay');

/** A ticket of a payment as `usher_pay_tickets` writes it (migration 8; the rest is its reservation's seat). */
export interface PaidTicketArgs {
  readonly id: string;
  readonly seat_no: number;
  readonly price: number;
  readonly holder: string;
  readonly created_at: number;
}

/** `usher_pay_tickets`' fields (migration 8): `usher_pay`'s and the payment's tickets, one per seat. */
export interface PayTicketsArgs extends PayArgs {
  readonly tickets: readonly PaidTicketArgs[];
}
export const PAY_TICKETS = applyKind<PayTicketsArgs>('usher_pay_tickets');

/** `usher_pay_offer`'s fields (migration 9): an offered hold paid with any known token (no token completes). */
export type PayOfferArgs = Omit<PayTicketsArgs, 'keep_until'>;
export const PAY_OFFER = applyKind<PayOfferArgs>('usher_pay_offer');

/**
 * The apply of a pay decision: the hold paid, the debit and the payment, the key, the token's
 * completion, and the tickets it issues (SPEC §11: `usher_pay_tickets`, in the same transaction).
 */
export function payApply(
  decision: Decision<unknown>,
  now: number,
  token: string,
  held: number,
  balance: number,
  offered = false,
): ApplyCall<PayArgs | PayTicketsArgs | PayOfferArgs> | undefined {
  const changes = changesOf(decision, [
    'paymentMade',
    'reservationEnded',
    'keyRemembered',
    'tokenCompleted',
    'ticketsIssued',
  ]);
  const payment = changes.paymentMade?.payment;
  if (!payment) return undefined;
  const paid = changes.reservationEnded;
  if (!paid || paid.status !== 'paid' || paid.id !== payment.reservationId)
    throw new Error('a payment pays its own reservation');
  const issued = changes.ticketsIssued?.tickets;
  if (issued?.some((ticket) => ticket.reservationId !== paid.id))
    throw new Error("a payment issues its own reservation's tickets");
  const args: PayArgs = {
    now,
    user_id: payment.userId,
    token,
    held,
    balance,
    reservation_id: paid.id,
    paid_at: paid.at,
    payment_id: payment.id,
    amount: payment.amount,
    new_balance: payment.balance,
    created_at: payment.createdAt,
    ...keyFields(changes.keyRemembered),
    keep_until: changes.tokenCompleted?.keepUntil ?? null,
  };
  if (!issued) return { kind: PAY, user: payment.userId, args };
  const tickets = issued.map((ticket) => ({
    id: ticket.id,
    seat_no: ticket.seatNo,
    price: ticket.price,
    holder: ticket.holder,
    created_at: ticket.createdAt,
  }));
  if (offered && !changes.tokenCompleted) {
    // An offered hold (SPEC §11): paid with any known token of its owner's; it ends no turn.
    const { keep_until: _none, ...rest } = args;
    return { kind: PAY_OFFER, user: payment.userId, args: { ...rest, tickets } };
  }
  return { kind: PAY_TICKETS, user: payment.userId, args: { ...args, tickets } };
}

export function pay(
  runner: CommandRunner,
  token: string,
  payment: { readonly reservationId: string },
  options: IdempotencyOptions = {},
): Promise<Payment> {
  return runner.run(async (now) => {
    const command = checkPay({
      reservationId: payment?.reservationId,
      idempotencyKey: options.idempotencyKey,
    });
    const { answer } = await runner.decide('pay', now, undefined, async (db) => {
      const read = await runner.read<{
        stored: Record<string, unknown> | null;
        reservation: Record<string, unknown> | null;
        route_concert: RouteConcert | null;
        balance: string;
        held: string | null;
        concert_id: string | null;
      }>(token, now, PAY_VIEW, [command.idempotencyKey ?? '', command.reservationId], db);
      if (read === 'again') return read;
      const { facts, row } = read;
      const reservation = row.reservation ? reservationRecord(row.reservation) : undefined;
      // An offered hold takes any known token of its owner's, of any room (SPEC §11).
      if (reservation && reservation.userId === facts.token?.userId && !isOffer(reservation))
        requireRouteRoom(facts.token, row.route_concert, now, runner.lifecycles);
      const view = {
        ...facts,
        stored: storedAnswer(facts, row.stored, command.idempotencyKey, PAYMENT_KEYS),
        reservation,
        balance: Number(row.balance),
        heldByUser: Number(row.held ?? 0),
        concertId: row.concert_id ?? undefined,
      };
      const decision = decidePay(view, command, now, runner.config, runner.lifecycles, newId());
      const apply = payApply(
        decision,
        now,
        facts.token?.token ?? '',
        view.heldByUser,
        view.balance,
        isOffer(reservation) && reservation.userId === facts.token?.userId,
      );
      return apply ? { decision, apply } : { decision };
    });
    return answer;
  });
}
