/**
 * Hold rules (SPEC §4, "Holds"): reserving, reading and cancelling a hold.
 * Pure: state + command + time in, changes + answer out, or an `EngineError`.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { TIMEOUT } from '../machines/compileLifecycle.js';
import { delayOf, type Lifecycles } from '../machines/lifecycles.js';
import type { ReservationRecord, ReservationStatus } from '../persistence/records.js';
import type { SeatPicker } from '../seats/SeatPicker.js';
import { requireId } from '../validate.js';
import { checkLimits, pickBest, pricedSeats, type ReserveCommand } from './orders.js';
import { unchanged, type Decision, type StateChange, type TokenState } from './changes.js';
import { activeUser, knownUser, type TokenFacts } from './queue.js';

/** The reservation occupying a seat (held or paid), as far as the reserve rule cares. */
export interface Occupant {
  readonly id: string;
  readonly userId: string;
  readonly status: ReservationStatus;
  readonly expiresAt: number;
}

/** A schedule as the reserve rule needs it. */
export interface ScheduleFacts {
  readonly id: string;
  readonly totalSeats: number;
  priceOf(seatNo: number): number;
  /** The seat's category (its tier's `name`), if any. */
  categoryOf?(seatNo: number): string | undefined;
}

/** What reserving looks at, read by the engine for the validated command. */
export interface ReserveView extends TokenFacts {
  readonly schedule: ScheduleFacts | undefined;
  /** The live (held or paid) reservation of a seat in range, if any: asked for the seats a body names. */
  occupantOf(seatNo: number): Occupant | undefined;
  /** The schedule's free runs, asked for best available only (a body with `quantity`). */
  readonly picker: SeatPicker | undefined;
  /** How many holds (reservations, whatever their size) the user has now. */
  readonly heldByUser: number;
  /** The user's held plus paid seats of this schedule ({@link ticketsOf}). */
  readonly ticketsOfUser: number;
}

export { checkReserve, type ReserveCommand } from './orders.js';

/** `SCHEDULE_NOT_FOUND` for an unknown date. */
export function requireSchedule<S>(schedule: S | undefined, scheduleId: string): S {
  if (schedule === undefined)
    throw new EngineError('SCHEDULE_NOT_FOUND', `no schedule "${scheduleId}"`);
  return schedule;
}

/**
 * Holds one seat or several, in one reservation, for `holdTtl` (the
 * reservation machine's delay): a seat (`seatNo`), the named seats all or
 * none (`seatNos`: any taken one is `SEAT_UNAVAILABLE`, naming the taken
 * ones in `details.seatNos`), or the best `quantity` seats ({@link pickBest}).
 * Then the user must be under `maxHoldsPerUser` and `maxTicketsPerUser`
 * ({@link checkLimits}). The user's token is extended to the end of the hold,
 * so nobody is locked out of paying for a seat they hold.
 */
export function decideReserve(
  view: ReserveView,
  command: ReserveCommand,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
  reservationId: string,
): Decision<ReservationRecord> {
  const user = activeUser(view, now, lifecycles);
  const { scheduleId } = command;
  const schedule = requireSchedule(view.schedule, scheduleId);
  const changes: StateChange[] = [];
  let seatNos: readonly number[];
  if (command.kind === 'best') {
    if (!view.picker) throw new Error("best available needs the schedule's seat picker");
    seatNos = pickBest(view.picker, command);
  } else {
    seatNos = command.kind === 'seat' ? [command.seatNo] : command.seatNos;
    const outside = seatNos.filter((seatNo) => seatNo > schedule.totalSeats);
    if (outside.length > 0)
      throw new EngineError(
        'SEAT_NOT_FOUND',
        `schedule "${scheduleId}" has seats 1 to ${schedule.totalSeats}`,
      );
    const taken: number[] = [];
    let yours = '';
    let takenAs = '';
    const ended = new Set<string>();
    for (const seatNo of seatNos) {
      const occupant = view.occupantOf(seatNo);
      if (!occupant) continue;
      const status = reservationStatusAt(occupant as ReservationRecord, now, lifecycles);
      if (status === 'held' || status === 'paid') {
        taken.push(seatNo);
        takenAs = status;
        if (occupant.userId === user.userId && status === 'held')
          yours = ` (you hold it: ${occupant.id})`;
        continue;
      }
      // A hold past its deadline that nothing has expired yet: it ends now, at its own deadline.
      if (occupant.status === 'held' && !ended.has(occupant.id)) {
        ended.add(occupant.id);
        changes.push({
          type: 'reservationEnded',
          id: occupant.id,
          status: 'expired',
          at: occupant.expiresAt,
        });
      }
    }
    if (taken.length > 0) {
      const what =
        taken.length === 1 && seatNos.length === 1
          ? `seat ${taken[0]} is ${takenAs}${yours}`
          : `seat${taken.length === 1 ? '' : 's'} ${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} taken${yours}`;
      throw new EngineError('SEAT_UNAVAILABLE', what, { details: { seatNos: taken } });
    }
  }
  checkLimits(view, seatNos.length, config);
  const { seats, amount } = pricedSeats(schedule, seatNos);
  const reservation: ReservationRecord = {
    id: reservationId,
    userId: user.userId,
    scheduleId,
    seatNo: seats[0]!.seatNo,
    price: seats[0]!.price,
    seats,
    amount,
    status: lifecycles.reservation.initial,
    createdAt: now,
    expiresAt: now + delayOf(lifecycles.reservation, 'held'),
  };
  changes.push({ type: 'reservationHeld', reservation });
  if (reservation.expiresAt > user.expiresAt)
    changes.push({ type: 'tokenExtended', token: user.token, expiresAt: reservation.expiresAt });
  return { changes, answer: reservation };
}

/** A reservation's status at `now`: a hold past its deadline has expired (the machine's `after holdTtl`), whatever the timers did. */
export function reservationStatusAt(
  reservation: ReservationRecord,
  now: number,
  lifecycles: Lifecycles,
): ReservationStatus {
  if (reservation.status === 'held' && reservation.expiresAt <= now)
    return lifecycles.reservation.next('held', TIMEOUT)!;
  return reservation.status;
}

/**
 * Who acts on a reservation: the user of an active token; for a hold
 * offered from the waitlist (`origin: "waitlist"`, SPEC §11) of the token's
 * user, any known token of theirs (kept ones too: they may have waited
 * longer than a turn). `view.reservation` is the one the command names.
 */
export function actingUser(
  view: TokenFacts & { readonly reservation: ReservationRecord | undefined },
  now: number,
  lifecycles: Lifecycles,
): TokenState {
  const known = knownUser(view);
  if (isOffer(view.reservation) && view.reservation.userId === known.userId) return known;
  return activeUser(view, now, lifecycles);
}

/** A hold offered from the waitlist (SPEC §11): paid, extended or cancelled with any known token of its owner. */
export const isOffer = (
  reservation: ReservationRecord | undefined,
): reservation is ReservationRecord & { origin: 'waitlist' } => reservation?.origin === 'waitlist';

/** The user's own reservation: another user's is answered like a missing one. */
export function requireOwn(
  reservation: ReservationRecord | undefined,
  user: TokenState,
  reservationId: string,
): ReservationRecord {
  if (!reservation || reservation.userId !== user.userId)
    throw new EngineError('RESERVATION_NOT_FOUND', `no reservation "${reservationId}"`);
  return reservation;
}

export const alreadyPaid = (): EngineError =>
  new EngineError('ALREADY_PAID', 'this reservation is already paid');
export const holdExpired = (status: string): EngineError =>
  new EngineError('HOLD_EXPIRED', `this hold is no longer held (it is ${status})`);

/** What reading or cancelling a reservation looks at. */
export interface ReservationView extends TokenFacts {
  readonly reservation: ReservationRecord | undefined;
}

/** Reading a reservation: the user's own, as it stands at `now`. */
export function decideGetReservation(
  view: ReservationView,
  reservationId: unknown,
  now: number,
  lifecycles: Lifecycles,
): ReservationRecord {
  const id = requireId(reservationId, 'reservationId');
  const user = actingUser(view, now, lifecycles);
  const reservation = requireOwn(view.reservation, user, id);
  const status = reservationStatusAt(reservation, now, lifecycles);
  return status === reservation.status
    ? reservation
    : { ...reservation, status, endedAt: reservation.expiresAt };
}

/**
 * Cancelling releases a hold. Cancelling a cancelled reservation answers it
 * again (DELETE is idempotent); a paid or expired one is refused.
 */
export function decideCancel(
  view: ReservationView,
  reservationId: unknown,
  now: number,
  lifecycles: Lifecycles,
): Decision<ReservationRecord> {
  const reservation = decideGetReservation(view, reservationId, now, lifecycles);
  if (reservation.status === 'paid') throw alreadyPaid();
  if (reservation.status === 'expired') throw holdExpired('expired');
  if (reservation.status !== 'held') return unchanged(reservation);
  const cancelled = lifecycles.reservation.next('held', 'CANCEL') as 'cancelled';
  return {
    changes: [{ type: 'reservationEnded', id: reservation.id, status: cancelled, at: now }],
    answer: { ...reservation, status: cancelled, endedAt: now },
  };
}

/** A hold past its deadline expires at its own deadline. */
export function decideExpireHold(
  reservation: ReservationRecord,
  now: number,
  lifecycles: Lifecycles,
): Decision<null> {
  if (
    reservation.status !== 'held' ||
    reservationStatusAt(reservation, now, lifecycles) !== 'expired'
  )
    return unchanged(null);
  return {
    changes: [
      {
        type: 'reservationEnded',
        id: reservation.id,
        status: 'expired',
        at: reservation.expiresAt,
      },
    ],
    answer: null,
  };
}

/** What listing the user's reservations looks at: their held and paid reservations, in any order. */
export interface ListReservationsView extends TokenFacts {
  readonly reservations: Iterable<ReservationRecord>;
}

/** The statuses {@link decideListReservations} can filter on: a listing shows live holds and paid tickets only. */
export const LISTED_STATUSES = ['held', 'paid'] as const;
export type ListedStatus = (typeof LISTED_STATUSES)[number];

/** Validates the optional status filter of a listing. */
export function checkListStatus(status: unknown): ListedStatus | undefined {
  if (status === undefined) return undefined;
  if (typeof status !== 'string' || !(LISTED_STATUSES as readonly string[]).includes(status)) {
    throw new EngineError(
      'VALIDATION_FAILED',
      `status must be one of ${LISTED_STATUSES.join(', ')}`,
    );
  }
  return status as ListedStatus;
}

/**
 * The token's user's live holds and paid tickets, newest first (then by id).
 * The token need only be known, not active: a kept token (ended after a
 * payment, still stored for replays) identifies its user, so a paid ticket
 * can be seen again after the turn ended. A hold past its deadline is not
 * listed, whatever the timers did. Cancelled and expired ones are never listed.
 */
export function decideListReservations(
  view: ListReservationsView,
  status: unknown,
  now: number,
  lifecycles: Lifecycles,
): ReservationRecord[] {
  const filter = checkListStatus(status);
  const user = knownUser(view);
  const listed: ReservationRecord[] = [];
  for (const reservation of view.reservations) {
    if (reservation.userId !== user.userId) continue;
    const current = reservationStatusAt(reservation, now, lifecycles);
    if (current !== 'held' && current !== 'paid') continue;
    if (filter !== undefined && current !== filter) continue;
    listed.push(reservation);
  }
  return listed.sort(
    (a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
}
