/**
 * Order rules (SPEC §10): what a reserve body asks for, which seats it gets,
 * the per-user ticket limit, and extending a hold. Pure: state + command +
 * time in, changes + answer out, or an `EngineError`. Both engines call them.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import type { Lifecycles } from '../machines/lifecycles.js';
import type { ReservationRecord, ReservedSeat, TicketRecord } from '../persistence/records.js';
import type { SeatPicker } from '../seats/SeatPicker.js';
import { requireId, requireInteger } from '../validate.js';
import type { Decision, StateChange } from './changes.js';
import { requireCategory } from './catalog.js';
import {
  actingUser,
  alreadyPaid,
  isOffer,
  decideGetReservation,
  holdExpired,
  reservationStatusAt,
  type ReservationView,
} from './holds.js';

/**
 * A validated reserve command: one seat (as before orders), several seats all
 * or none, or the best `quantity` seats.
 */
export type ReserveCommand =
  | { readonly kind: 'seat'; readonly scheduleId: string; readonly seatNo: number }
  | { readonly kind: 'seats'; readonly scheduleId: string; readonly seatNos: readonly number[] }
  | {
      readonly kind: 'best';
      readonly scheduleId: string;
      readonly quantity: number;
      readonly category: string | undefined;
      readonly together: boolean;
    };

/** A reserve body as it arrives (any of SPEC §10's three). */
export interface ReserveInput {
  readonly scheduleId?: unknown;
  readonly seatNo?: unknown;
  readonly seatNos?: unknown;
  readonly quantity?: unknown;
  readonly category?: unknown;
  readonly together?: unknown;
}

/**
 * Validates a reserve body before anything is looked up: exactly one of
 * `seatNo`, `seatNos` (1 to `maxSeatsPerOrder` distinct seats) or `quantity`
 * (1 to `maxSeatsPerOrder`, with optional `category` and `together`,
 * default `true`).
 */
export function checkReserve(input: ReserveInput, config: EngineConfig): ReserveCommand {
  const scheduleId = requireId(input.scheduleId, 'scheduleId');
  const given = (['seatNo', 'seatNos', 'quantity'] as const).filter(
    (field) => input[field] !== undefined,
  );
  if (given.length !== 1)
    throw new EngineError('VALIDATION_FAILED', 'give exactly one of seatNo, seatNos or quantity');
  if (
    input.quantity === undefined &&
    (input.category !== undefined || input.together !== undefined)
  )
    throw new EngineError('VALIDATION_FAILED', 'category and together go with quantity only');
  const max = config.maxSeatsPerOrder;
  if (input.seatNo !== undefined)
    return { kind: 'seat', scheduleId, seatNo: requireInteger(input.seatNo, 'seatNo', 1) };
  if (input.seatNos !== undefined) {
    const raw = input.seatNos;
    if (!Array.isArray(raw) || raw.length < 1 || raw.length > max)
      throw new EngineError(
        'VALIDATION_FAILED',
        `seatNos must be an array of 1 to ${max} seat numbers`,
      );
    const seatNos = raw.map((seatNo) => requireInteger(seatNo, 'seatNos[]', 1));
    if (new Set(seatNos).size !== seatNos.length)
      throw new EngineError('VALIDATION_FAILED', 'seatNos must not repeat a seat');
    return { kind: 'seats', scheduleId, seatNos: seatNos.sort((a, b) => a - b) };
  }
  if (input.together !== undefined && typeof input.together !== 'boolean')
    throw new EngineError('VALIDATION_FAILED', 'together must be true or false');
  return {
    kind: 'best',
    scheduleId,
    quantity: requireInteger(input.quantity, 'quantity', 1, max),
    category:
      input.category === undefined ? undefined : requireCategory(input.category, 'category'),
    together: input.together !== false,
  };
}

/** The seats a reservation holds, ascending (a record written before orders holds its one seat). */
export function seatsOf(reservation: ReservationRecord): readonly ReservedSeat[] {
  return reservation.seats ?? [{ seatNo: reservation.seatNo, price: reservation.price }];
}

/**
 * The seats `seatNos` of `schedule` at the catalog's prices (with their
 * categories), and what they cost together: what a new hold (a reserve, or
 * an offer from the waitlist) records. An amount past a safe integer is
 * `VALIDATION_FAILED`.
 */
export function pricedSeats(
  schedule: {
    priceOf(seatNo: number): number;
    categoryOf?(seatNo: number): string | undefined;
  },
  seatNos: readonly number[],
): { readonly seats: ReservedSeat[]; readonly amount: number } {
  const seats: ReservedSeat[] = seatNos.map((seatNo) => {
    const category = schedule.categoryOf?.(seatNo);
    const price = schedule.priceOf(seatNo);
    return category === undefined ? { seatNo, price } : { seatNo, price, category };
  });
  let amount = 0;
  for (const seat of seats) amount += seat.price;
  if (!Number.isSafeInteger(amount))
    throw new EngineError('VALIDATION_FAILED', 'the seats cost more than an amount can be');
  return { seats, amount };
}

/** What paying for a reservation costs: the sum of its seats' prices. */
export function amountOf(reservation: ReservationRecord): number {
  return reservation.amount ?? reservation.price;
}

/**
 * The user's seats of one schedule for `MAX_TICKETS_PER_USER`: the seats of
 * their reservations of it that are held (not past the deadline), plus their
 * live tickets of it (`valid` or `checked_in`, SPEC §11: a paid seat counts
 * as its ticket, so a refunded or transferred one no longer does, and a
 * received one does). `tickets` may hold other users' or schedules'.
 */
export function ticketsOf(
  reservations: Iterable<ReservationRecord>,
  tickets: Iterable<TicketRecord>,
  userId: string,
  scheduleId: string,
  now: number,
  lifecycles: Lifecycles,
): number {
  let count = 0;
  for (const reservation of reservations) {
    if (reservation.userId !== userId || reservation.scheduleId !== scheduleId) continue;
    if (reservationStatusAt(reservation, now, lifecycles) === 'held')
      count += seatsOf(reservation).length;
  }
  for (const ticket of tickets)
    if (
      ticket.holder === userId &&
      ticket.scheduleId === scheduleId &&
      (ticket.status === 'valid' || ticket.status === 'checked_in')
    )
      count++;
  return count;
}

/**
 * Best available (SPEC §10): `quantity` free seats of the named category (an
 * unknown name is `CATEGORY_NOT_FOUND`), with `together` the consecutive
 * block of one row with the lowest first seat, else the lowest free seats.
 * None qualifies: `SEATS_UNAVAILABLE`. The picker answers in O(log n) per seat.
 */
export function pickBest(
  picker: SeatPicker,
  command: Extract<ReserveCommand, { kind: 'best' }>,
): number[] {
  const { quantity, category, together } = command;
  if (category !== undefined && !picker.hasCategory(category))
    throw new EngineError(
      'CATEGORY_NOT_FOUND',
      `schedule "${command.scheduleId}" has no category "${category}"`,
    );
  const seats = picker.pick(quantity, { category, together });
  if (seats === undefined) {
    const of = category === undefined ? '' : ` of category "${category}"`;
    const how = together && quantity > 1 ? ' together in one row' : '';
    throw new EngineError('SEATS_UNAVAILABLE', `no ${quantity} free seats${of}${how}`);
  }
  return seats;
}

/**
 * `MAX_HOLDS_PER_USER` first, then `MAX_TICKETS_PER_USER`: where both are
 * passed, the answer is `HOLD_LIMIT_REACHED`.
 */
export function checkLimits(
  view: { readonly heldByUser: number; readonly ticketsOfUser: number },
  seats: number,
  config: EngineConfig,
): void {
  if (view.heldByUser >= config.maxHoldsPerUser)
    throw new EngineError('HOLD_LIMIT_REACHED', `you already have ${config.maxHoldsPerUser} holds`);
  if (view.ticketsOfUser + seats > config.maxTicketsPerUser)
    throw new EngineError(
      'TICKET_LIMIT_REACHED',
      `you may have ${config.maxTicketsPerUser} seats of this date held or paid, and have ${view.ticketsOfUser}`,
    );
}

/**
 * Extends a hold by `holdExtensionMs`, at most `holdExtensions` times (then
 * `EXTENSION_LIMIT`); a hold that is no longer held is `HOLD_EXPIRED`
 * (`ALREADY_PAID` once paid). The user's token is extended to the new end,
 * as for a new hold.
 */
export function decideExtend(
  view: ReservationView,
  reservationId: unknown,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
): Decision<ReservationRecord> {
  // The reservation as it stands at `now` (a hold past its deadline is expired), after the id and token checks.
  const reservation = decideGetReservation(view, reservationId, now, lifecycles);
  const user = actingUser(view, now, lifecycles);
  if (reservation.status === 'paid') throw alreadyPaid();
  if (reservation.status !== 'held') throw holdExpired(reservation.status);
  const extensions = (reservation.extensions ?? 0) + 1;
  if (extensions > config.holdExtensions)
    throw new EngineError(
      'EXTENSION_LIMIT',
      `a hold may be extended ${config.holdExtensions} time${config.holdExtensions === 1 ? '' : 's'}`,
    );
  const expiresAt = reservation.expiresAt + config.holdExtensionMs;
  const changes: StateChange[] = [
    { type: 'reservationExtended', id: reservation.id, expiresAt, extensions },
  ];
  // An offered hold is not part of a turn: no token needs to live as long as it.
  if (!isOffer(reservation) && expiresAt > user.expiresAt)
    changes.push({ type: 'tokenExtended', token: user.token, expiresAt });
  return { changes, answer: { ...reservation, expiresAt, extensions } };
}
