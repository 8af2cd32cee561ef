/**
 * Wallet rules (SPEC §4, "Payment", "Balance", "Idempotency"): charging,
 * paying, reading a balance, replaying idempotent answers.
 * Pure: state + command + time in, changes + answer out, or an `EngineError`.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import type { Lifecycles } from '../machines/lifecycles.js';
import type {
  IdempotencyRecord,
  PaymentRecord,
  ReservationRecord,
} from '../persistence/records.js';
import type { Payment, Wallet } from '../types.js';
import { requireId, requireInteger, requireUserId } from '../validate.js';
import { paymentView } from '../views.js';
import { unchanged, type Decision, type StateChange, type TokenState } from './changes.js';
import {
  actingUser,
  alreadyPaid,
  holdExpired,
  isOffer,
  requireOwn,
  reservationStatusAt,
} from './holds.js';
import { amountOf } from './orders.js';
import { activeUser, keptUntil, knownUser, type TokenFacts } from './queue.js';
import { ticketsForPayment } from './tickets.js';

/** A token may only use its own wallet. */
export function requireSelf(user: TokenState, userId: string): void {
  if (user.userId !== userId)
    throw new EngineError('FORBIDDEN', 'a token may only use its own wallet');
}

/** What a retry with this key and request must match. */
export const payFingerprint = (reservationId: string): string =>
  JSON.stringify(['pay', reservationId]);
export const chargeFingerprint = (userId: string, amount: number): string =>
  JSON.stringify(['charge', userId, amount]);

/** Marks a replayed answer: a registered symbol, so copies of this package agree on it. */
const REPLAYED = Symbol.for('usher.replayed');

/**
 * Whether an engine's answer is the stored first answer of an idempotent
 * request, replayed for a retry with the same key (`pay`, `charge`), rather
 * than something done now. The mark is a non-enumerable symbol property:
 * JSON, spreading and equality ignore it.
 *
 * @example
 * ```ts
 * const payment = await engine.pay(token, { reservationId }, { idempotencyKey });
 * if (isReplay(payment)) console.log('already paid, by the first request with this key');
 * ```
 */
export function isReplay(answer: unknown): boolean {
  return (
    typeof answer === 'object' &&
    answer !== null &&
    (answer as { [REPLAYED]?: unknown })[REPLAYED] === true
  );
}

/**
 * The stored answer for a retried idempotent request, marked as a replay (a
 * copy: see {@link isReplay}), or `undefined` for a first try. The same key
 * for a different request is `IDEMPOTENCY_KEY_REUSED`.
 */
export function replayOf<T>(
  stored: IdempotencyRecord | undefined,
  fingerprint: string,
): T | undefined {
  if (!stored) return undefined;
  if (stored.fingerprint !== fingerprint) {
    throw new EngineError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was already used for a different request',
    );
  }
  return Object.defineProperty({ ...(stored.result as object) }, REPLAYED, { value: true }) as T;
}

/** Validates an `Idempotency-Key`, when one is given. */
export function checkKey(key: unknown): string | undefined {
  return key === undefined ? undefined : requireId(key, 'Idempotency-Key');
}

export interface ChargeCommand {
  readonly userId: string;
  readonly amount: number;
  readonly idempotencyKey: string | undefined;
}

/** Validates a charge before anything is looked up: an integer from 1 to `maxChargeAmount`. */
export function checkCharge(
  command: { userId: unknown; amount: unknown; idempotencyKey?: unknown },
  config: EngineConfig,
): ChargeCommand {
  const userId = requireUserId(command.userId);
  const amount = requireInteger(command.amount, 'amount', 1, config.maxChargeAmount);
  return { userId, amount, idempotencyKey: checkKey(command.idempotencyKey) };
}

/** What charging looks at: the token, the key's stored answer for the token's user (if a key was given), the balance. */
export interface ChargeView extends TokenFacts {
  readonly stored: IdempotencyRecord | undefined;
  readonly balance: number;
}

/**
 * Adds `amount` to the user's own balance, which must stay at most
 * `maxBalance`. With a key, the first answer is kept and replayed for
 * retries, even after the token expired (a kept token still identifies).
 */
export function decideCharge(
  view: ChargeView,
  command: ChargeCommand,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
): Decision<Wallet> {
  const { userId, amount, idempotencyKey } = command;
  requireSelf(knownUser(view), userId);
  // Only keyed requests are fingerprinted: JSON for every charge would cost more than the charge.
  const fingerprint = idempotencyKey === undefined ? '' : chargeFingerprint(userId, amount);
  const replay =
    idempotencyKey === undefined ? undefined : replayOf<Wallet>(view.stored, fingerprint);
  if (replay) return unchanged(replay);
  activeUser(view, now, lifecycles);
  if (view.balance + amount > config.maxBalance)
    throw new EngineError('BALANCE_LIMIT', `a balance may not pass ${config.maxBalance}`);
  const wallet: Wallet = { userId, balance: view.balance + amount };
  const changes: StateChange[] = [{ type: 'walletCredited', userId, amount }];
  if (idempotencyKey !== undefined) {
    changes.push({
      type: 'keyRemembered',
      record: { userId, key: idempotencyKey, fingerprint, result: wallet, createdAt: now },
    });
  }
  return { changes, answer: wallet };
}

/** Reading a balance: the token's own wallet only. */
export function decideGetBalance(
  view: TokenFacts & { readonly balance: number },
  userId: unknown,
  now: number,
  lifecycles: Lifecycles,
): Wallet {
  const id = requireUserId(userId);
  requireSelf(activeUser(view, now, lifecycles), id);
  return { userId: id, balance: view.balance };
}

export interface PayCommand {
  readonly reservationId: string;
  readonly idempotencyKey: string | undefined;
}

export function checkPay(command: {
  reservationId: unknown;
  idempotencyKey?: unknown;
}): PayCommand {
  return {
    reservationId: requireId(command.reservationId, 'reservationId'),
    idempotencyKey: checkKey(command.idempotencyKey),
  };
}

/** What paying looks at: the token, the key's stored answer, the reservation, the balance. */
export interface PayView extends TokenFacts {
  readonly stored: IdempotencyRecord | undefined;
  readonly reservation: ReservationRecord | undefined;
  readonly balance: number;
  /** Seats the user holds now, this one included. */
  readonly heldByUser: number;
  /** The concert of the reservation's schedule (its tickets name it, SPEC §11); `undefined` when there is no reservation. */
  readonly concertId: string | undefined;
}

/**
 * Pays a held reservation from the balance, all at once or not at all: only
 * its holder pays, the hold must still be held and not past its deadline, the
 * balance must cover its amount (every seat of it). Each seat becomes a
 * `valid` ticket (SPEC §11, `ticketsIssued`, ids `ticketIdOf`). The token then completes (its slot goes to
 * the next user), unless the user still holds other seats. With a key, the
 * first answer is replayed for retries, even after the token completed.
 */
export function decidePay(
  view: PayView,
  command: PayCommand,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
  paymentId: string,
): Decision<Payment> {
  const fingerprint =
    command.idempotencyKey === undefined ? '' : payFingerprint(command.reservationId);
  if (command.idempotencyKey !== undefined) {
    const replay = replayOf<Payment>(view.stored, fingerprint);
    if (replay) return unchanged(replay);
  }
  const user = actingUser(view, now, lifecycles);
  const reservation = requireOwn(view.reservation, user, command.reservationId);
  const { balance } = view;
  const status = reservationStatusAt(reservation, now, lifecycles);
  if (status === 'paid') throw alreadyPaid();
  if (status !== 'held') throw holdExpired(status);
  const amount = amountOf(reservation);
  if (balance < amount) {
    throw new EngineError(
      'INSUFFICIENT_BALANCE',
      `the price is ${amount} and the balance ${balance}`,
    );
  }
  if (view.concertId === undefined)
    throw new Error(`the schedule of reservation ${reservation.id} has no concert`);
  const record: PaymentRecord = {
    id: paymentId,
    reservationId: reservation.id,
    userId: user.userId,
    amount,
    balance: balance - amount,
    createdAt: now,
  };
  const payment = paymentView(record);
  const changes: StateChange[] = [
    {
      type: 'reservationEnded',
      id: reservation.id,
      status: lifecycles.reservation.next('held', 'PAY') as 'paid',
      at: now,
    },
    { type: 'paymentMade', payment: record },
    { type: 'ticketsIssued', tickets: ticketsForPayment(reservation, view.concertId, now) },
  ];
  if (command.idempotencyKey !== undefined) {
    changes.push({
      type: 'keyRemembered',
      record: {
        userId: user.userId,
        key: command.idempotencyKey,
        fingerprint,
        result: payment,
        createdAt: now,
      },
    });
  }
  // An offered hold (SPEC §11) is paid with any known token: it ends no turn.
  if (view.heldByUser <= 1 && !isOffer(reservation))
    changes.push({
      type: 'tokenCompleted',
      token: user.token,
      keepUntil: keptUntil(now, config),
    });
  return { changes, answer: payment };
}
