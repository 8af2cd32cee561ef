/**
 * Waitlist rules (SPEC §11, "Waitlist"): joining a sold-out schedule's
 * waitlist, reading and leaving one's entry, and handing freed seats out to
 * the entries in order ({@link decideOffers}). Pure: state + command + time
 * in, changes + answer out, or an `EngineError`. Both engines call them; the
 * engines carry the changes out, in the same durable step as the change that
 * freed the seats.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { delayOf, type Lifecycles } from '../machines/lifecycles.js';
import type { ReservationRecord, WaitlistRecord } from '../persistence/records.js';
import type { WaitlistEntry } from '../types.js';
import { requireId, requireInteger } from '../validate.js';
import type { Decision, StateChange } from './changes.js';
import { requireSchedule, type ScheduleFacts } from './holds.js';
import { pricedSeats, seatsOf } from './orders.js';
import { activeUser, knownUser, type TokenFacts } from './queue.js';

/** A user's entry with its 1-based place on its schedule's list (entries with a smaller `seq`, plus one). */
export interface PlacedEntry {
  readonly record: WaitlistRecord;
  readonly position: number;
}

/** The entry as its user sees it. */
export function waitlistView(record: WaitlistRecord, position: number): WaitlistEntry {
  return {
    scheduleId: record.scheduleId,
    userId: record.userId,
    position,
    quantity: record.quantity,
    offered: record.offered,
    joinedAt: new Date(record.joinedAt).toISOString(),
  };
}

export const waitlistNotFound = (scheduleId: string): EngineError =>
  new EngineError('WAITLIST_NOT_FOUND', `you are not on the waitlist of schedule "${scheduleId}"`);

/** A validated join: the schedule and how many seats (default 1, 1..`maxSeatsPerOrder`). */
export interface JoinWaitlistCommand {
  readonly scheduleId: string;
  readonly quantity: number;
}

/** Validates a join before anything is looked up. */
export function checkJoinWaitlist(
  scheduleId: unknown,
  request: { readonly quantity?: unknown } | undefined,
  config: EngineConfig,
): JoinWaitlistCommand {
  const id = requireId(scheduleId, 'scheduleId');
  if (request !== undefined && (typeof request !== 'object' || request === null))
    throw new EngineError('VALIDATION_FAILED', 'the body must be an object');
  const quantity =
    request?.quantity === undefined
      ? 1
      : requireInteger(request.quantity, 'quantity', 1, config.maxSeatsPerOrder);
  return { scheduleId: id, quantity };
}

/** What joining looks at, read by the engine for the validated command. */
export interface JoinWaitlistView extends TokenFacts {
  readonly schedule: ScheduleFacts | undefined;
  /** Seats of the schedule for sale now (available: neither held nor sold). */
  readonly seatsForSale: number;
  /** The user's entry on this schedule's list, if any. */
  readonly entry: PlacedEntry | undefined;
  /** How many entries the schedule's list has now (a new one comes after them). */
  readonly length: number;
  /** The user's held seats plus live tickets of the schedule (`ticketsOf`). */
  readonly ticketsOfUser: number;
}

/**
 * Joins the schedule's waitlist (active token, as for a hold): only while no
 * seat is for sale (`SEATS_AVAILABLE`), once per user and schedule
 * (`WAITLIST_JOINED`, with the place in `details.position`), and within
 * `maxTicketsPerUser` counting `quantity` (`TICKET_LIMIT_REACHED`). The new
 * entry goes last, with `seq` (the engine's next; PostgreSQL's identity
 * assigns it there).
 */
export function decideJoinWaitlist(
  view: JoinWaitlistView,
  command: JoinWaitlistCommand,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
  seq: number,
): Decision<WaitlistEntry> {
  const user = activeUser(view, now, lifecycles);
  requireSchedule(view.schedule, command.scheduleId);
  if (view.entry)
    throw new EngineError(
      'WAITLIST_JOINED',
      `you are already on this waitlist, at place ${view.entry.position}`,
      { details: { position: view.entry.position } },
    );
  if (view.seatsForSale > 0)
    throw new EngineError(
      'SEATS_AVAILABLE',
      `schedule "${command.scheduleId}" has ${view.seatsForSale} seat${view.seatsForSale === 1 ? '' : 's'} for sale: reserve one`,
    );
  if (view.ticketsOfUser + command.quantity > config.maxTicketsPerUser)
    throw new EngineError(
      'TICKET_LIMIT_REACHED',
      `you may have ${config.maxTicketsPerUser} seats of this date held or paid, and have ${view.ticketsOfUser}`,
    );
  const entry: WaitlistRecord = {
    scheduleId: command.scheduleId,
    userId: user.userId,
    seq,
    quantity: command.quantity,
    offered: 0,
    joinedAt: now,
  };
  return {
    changes: [{ type: 'waitlistJoined', entry }],
    answer: waitlistView(entry, view.length + 1),
  };
}

/** What reading or leaving one's entry looks at: the (known) token, and the user's entry on the schedule's list. */
export interface WaitlistEntryView extends TokenFacts {
  readonly entry: PlacedEntry | undefined;
}

/** The user's entry (any known token, kept ones included); none is `WAITLIST_NOT_FOUND`. */
export function decideGetWaitlistEntry(
  view: WaitlistEntryView,
  scheduleId: unknown,
): WaitlistEntry {
  const id = requireId(scheduleId, 'scheduleId');
  const user = knownUser(view);
  const { entry } = view;
  if (!entry || entry.record.userId !== user.userId || entry.record.scheduleId !== id)
    throw waitlistNotFound(id);
  return waitlistView(entry.record, entry.position);
}

/** Leaves the schedule's waitlist (any known token): answers the entry it removed; none is `WAITLIST_NOT_FOUND`. */
export function decideLeaveWaitlist(
  view: WaitlistEntryView,
  scheduleId: unknown,
): Decision<WaitlistEntry> {
  const answer = decideGetWaitlistEntry(view, scheduleId);
  return {
    changes: [{ type: 'waitlistLeft', scheduleId: answer.scheduleId, userId: answer.userId }],
    answer,
  };
}

/** Seats of one schedule freed together (an order's expiry, a cancel, a refund). */
export interface FreedSeats {
  readonly scheduleId: string;
  readonly seatNos: readonly number[];
}

/**
 * The seats a decision's changes free, one {@link FreedSeats} per freeing
 * (to hand to {@link decideOffers} each, in the same durable step): a hold
 * that ends `cancelled` or `expired` frees its seats together (an order's
 * several), `seatFreed` changes (refunds) their seats, by schedule.
 * `reservationOf` finds the ended holds (as they were before the decision).
 */
export function seatsFreedBy(
  changes: readonly StateChange[],
  reservationOf: (id: string) => ReservationRecord | undefined,
): FreedSeats[] {
  const freed: FreedSeats[] = [];
  const refunded = new Map<string, number[]>();
  for (const change of changes) {
    if (
      change.type === 'reservationEnded' &&
      (change.status === 'cancelled' || change.status === 'expired')
    ) {
      const reservation = reservationOf(change.id);
      if (reservation)
        freed.push({
          scheduleId: reservation.scheduleId,
          seatNos: seatsOf(reservation).map(({ seatNo }) => seatNo),
        });
    } else if (change.type === 'seatFreed') {
      const seatNos = refunded.get(change.scheduleId) ?? [];
      seatNos.push(change.seatNo);
      refunded.set(change.scheduleId, seatNos);
    }
  }
  for (const [scheduleId, seatNos] of refunded) freed.push({ scheduleId, seatNos });
  return freed;
}

/**
 * Hands seats freed together out to the schedule's waitlist, in order
 * (`entries` in `seq` order; others are skipped): each entry in turn gets
 * ONE new hold (`reservationHeld`, `origin: "waitlist"`, the normal
 * `holdTtl`, the catalog's prices) of `min(quantity − offered, seats left)`
 * seats, the lowest first, and a `waitlistOffered`. Seats left when the list
 * is exhausted stay free (for sale, as the change that freed them left them).
 * No changes when nobody waits. `schedule` prices the seats; `newId` names
 * each hold. The engine applies these after the change that freed the seats,
 * in the same durable step.
 */
export function decideOffers(
  freed: FreedSeats,
  entries: readonly WaitlistRecord[],
  schedule: ScheduleFacts,
  now: number,
  lifecycles: Lifecycles,
  newId: () => string,
): StateChange[] {
  const left = [...new Set(freed.seatNos)].sort((a, b) => a - b);
  const changes: StateChange[] = [];
  const waiting = entries
    .filter((entry) => entry.scheduleId === freed.scheduleId && entry.offered < entry.quantity)
    .sort((a, b) => a.seq - b.seq);
  for (const entry of waiting) {
    if (left.length === 0) break;
    const seatNos = left.splice(0, Math.min(entry.quantity - entry.offered, left.length));
    const { seats, amount } = pricedSeats(schedule, seatNos);
    const reservation: ReservationRecord = {
      id: newId(),
      userId: entry.userId,
      scheduleId: freed.scheduleId,
      seatNo: seats[0]!.seatNo,
      price: seats[0]!.price,
      seats,
      amount,
      status: lifecycles.reservation.initial,
      createdAt: now,
      expiresAt: now + delayOf(lifecycles.reservation, 'held'),
      origin: 'waitlist',
    };
    changes.push(
      { type: 'reservationHeld', reservation },
      {
        type: 'waitlistOffered',
        scheduleId: freed.scheduleId,
        userId: entry.userId,
        reservationId: reservation.id,
        seats: seatNos.length,
      },
    );
  }
  return changes;
}
