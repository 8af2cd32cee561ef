import type { Catalog, ScheduleEntry } from '../catalog/Catalog.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { ReservationRecord, ReservationStatus } from '../persistence/records.js';
import { DeadlineHeap } from '../timers/DeadlineHeap.js';
import { TIMEOUT, type Timeout } from '../machines/compileLifecycle.js';
import { reservationLifecycle } from '../machines/lifecycles.js';
import type { ReservationEvent } from '../machines/reservationMachine.js';
import { seatsOf } from '../rules/orders.js';
import type { FreedSeats } from '../rules/waitlist.js';

/** Told of seats a hold's end (expiry or cancel) freed, in the change set that frees them: the waitlist's hook. */
export type OnFreed = (freed: FreedSeats, tx: ChangeSet) => void;

/**
 * Reservations and the seats they occupy, kept consistent together: a seat is
 * `held` exactly while a `held` reservation lists it, and `paid` exactly when
 * a `paid` one does; a reservation's seats change together. Reservations follow the reservation machine and
 * seats the seat machine (both compiled to tables). What to change is decided
 * by the rules (`rules/holds.ts`); this only applies it.
 */
export class HoldBook {
  readonly #catalog: Catalog;
  readonly #reservations = new Map<string, ReservationRecord>();
  readonly #heldByUser = new Map<string, Set<ReservationRecord>>();
  /** Each user's held and paid reservations (a hold leaves it when it ends unpaid), so a user's listing costs only their own reservations. */
  readonly #liveByUser = new Map<string, Set<ReservationRecord>>();
  readonly #deadlines = new DeadlineHeap<ReservationRecord>();
  /** Expired and cancelled reservations, in the order they ended, for retention. */
  readonly #ended = new Map<string, ReservationRecord>();
  #held = 0;
  #paid = 0;

  readonly #onFreed: OnFreed;

  constructor(catalog: Catalog, onFreed: OnFreed = () => undefined) {
    this.#catalog = catalog;
    this.#onFreed = onFreed;
  }

  /** Seats held now (a reservation of several counts each). */
  get heldCount(): number {
    return this.#held;
  }

  /** Seats sold. */
  get paidCount(): number {
    return this.#paid;
  }

  get size(): number {
    return this.#reservations.size;
  }

  find(id: string): ReservationRecord | undefined {
    return this.#reservations.get(id);
  }

  /** How many holds (reservations of one seat or several) the user has right now. */
  heldBy(userId: string): number {
    return this.#heldByUser.get(userId)?.size ?? 0;
  }

  /** The user's held and paid reservations (a hold past its deadline may still be here until it is expired). */
  liveOf(userId: string): Iterable<ReservationRecord> {
    return this.#liveByUser.get(userId) ?? [];
  }

  /** Holds every seat of a reservation the rules decided (its seats are available). */
  hold(reservation: ReservationRecord, tx: ChangeSet): void {
    this.#claim(reservation);
    this.#reservations.set(reservation.id, reservation);
    this.#addHeld(reservation);
    tx.put('reservations', reservation.id, reservation);
  }

  /** Moves a hold's deadline later (an extension the rules decided); the old deadline, when it pops, is skipped. */
  extend(id: string, expiresAt: number, extensions: number, tx: ChangeSet): void {
    const reservation = this.#reservations.get(id);
    if (reservation?.status !== 'held') throw new Error(`no held reservation ${id} to extend`);
    reservation.expiresAt = expiresAt;
    reservation.extensions = extensions;
    this.#deadlines.push(expiresAt, reservation);
    tx.put('reservations', reservation.id, reservation);
  }

  /** Every seat of the reservation goes `available → held`, or none does (a refusal here is a fault). */
  #claim(reservation: ReservationRecord): void {
    const seats = this.#seats(reservation);
    const list = seatsOf(reservation);
    for (const { seatNo } of list) {
      if (seatNo < 1 || seatNo > seats.totalSeats || seats.state(seatNo) !== 'available')
        throw new Error(
          `seat ${seatNo} of ${reservation.scheduleId} is claimed by ${reservation.id} and another reservation`,
        );
    }
    for (const { seatNo } of list) seats.hold(seatNo, reservation);
  }

  /** Ends a hold as the rules decided: `paid`, `cancelled`, or `expired` (at its deadline). */
  end(id: string, status: 'paid' | 'cancelled' | 'expired', at: number, tx: ChangeSet): void {
    const reservation = this.#reservations.get(id);
    if (!reservation) throw new Error(`no reservation ${id}`);
    if (status === 'paid') this.#markPaid(reservation, tx);
    else if (status === 'cancelled') this.#cancel(reservation, at, tx);
    else this.#expire(reservation, tx);
  }

  /** `held → cancelled`, every seat becomes available (then the waitlist may take them). */
  #cancel(reservation: ReservationRecord, at: number, tx: ChangeSet): void {
    const seats = this.#seats(reservation);
    for (const { seatNo } of seatsOf(reservation)) seats.release(seatNo);
    this.#end(reservation, 'CANCEL', at, tx);
    this.#freed(reservation, tx);
  }

  #freed(reservation: ReservationRecord, tx: ChangeSet): void {
    this.#onFreed(
      {
        scheduleId: reservation.scheduleId,
        seatNos: seatsOf(reservation).map(({ seatNo }) => seatNo),
      },
      tx,
    );
  }

  /** `held → paid`, every seat is sold. */
  #markPaid(reservation: ReservationRecord, tx: ChangeSet): void {
    const seats = this.#seats(reservation);
    for (const { seatNo } of seatsOf(reservation)) seats.pay(seatNo);
    this.#removeHeld(reservation);
    reservation.status = this.#next(reservation, 'PAY');
    this.#paid += seatsOf(reservation).length;
    tx.put('reservations', reservation.id, reservation);
  }

  /**
   * A sold seat is free again (its ticket was refunded, SPEC §11):
   * `paid --REFUND--> available`. The reservation stays `paid` (its payment
   * stands); the seat is simply no longer its.
   */
  freeSeat(reservationId: string, seatNo: number): void {
    const reservation = this.#reservations.get(reservationId);
    if (reservation?.status !== 'paid' || this.#seats(reservation).occupant(seatNo) !== reservation)
      throw new Error(`seat ${seatNo} is not sold to reservation ${reservationId}`);
    if (!this.#seats(reservation).refund(seatNo))
      throw new Error(`seat ${seatNo} of ${reservation.scheduleId} cannot be refunded`);
    this.#paid--;
  }

  /** Expires holds whose deadline is at or before `now`, each at its exact deadline. */
  expireDue(now: number, tx: ChangeSet): void {
    for (
      let reservation = this.#deadlines.popDue(now);
      reservation;
      reservation = this.#deadlines.popDue(now)
    ) {
      // An extended hold's earlier deadline pops too: only its current one counts.
      if (reservation.status === 'held' && reservation.expiresAt <= now)
        this.#expire(reservation, tx);
    }
  }

  /** The safety net: looks at every hold, whatever the timers did. */
  sweep(now: number, tx: ChangeSet): void {
    const overdue: ReservationRecord[] = [];
    for (const holds of this.#heldByUser.values()) {
      for (const reservation of holds) if (reservation.expiresAt <= now) overdue.push(reservation);
    }
    for (const reservation of overdue) this.#expire(reservation, tx);
  }

  /** Forgets expired and cancelled reservations that ended at or before `before`. */
  purgeEnded(before: number, tx: ChangeSet): void {
    for (const reservation of this.#ended.values()) {
      if ((reservation.endedAt ?? 0) > before) break;
      this.#ended.delete(reservation.id);
      this.#reservations.delete(reservation.id);
      tx.delete('reservations', reservation.id);
    }
  }

  nextDeadline(): number {
    return this.#deadlines.peekAt();
  }

  /**
   * Rebuilds reservations and seat states from stored reservations; holds
   * whose deadline passed while the process was down expire now (in `tx`),
   * their seats going to the waitlist as any expiry's (restore it first).
   */
  restore(
    records: Iterable<ReservationRecord>,
    now: number,
    tx: ChangeSet,
    freed: ReadonlySet<string> = new Set(),
  ): void {
    const ended: ReservationRecord[] = [];
    // Paid seats first, without those refunded since (SPEC §11): a refunded seat may be held again.
    const paid: ReservationRecord[] = [];
    const held: ReservationRecord[] = [];
    for (const reservation of records) {
      const schedule = this.#catalog.schedule(reservation.scheduleId);
      if (!schedule)
        throw new Error(
          `reservation ${reservation.id} names unknown schedule ${reservation.scheduleId}`,
        );
      this.#reservations.set(reservation.id, reservation);
      if (reservation.status === 'expired' || reservation.status === 'cancelled') {
        ended.push(reservation);
        continue;
      }
      (reservation.status === 'paid' ? paid : held).push(reservation);
    }
    for (const reservation of paid) {
      const seats = this.#seats(reservation);
      for (const { seatNo } of seatsOf(reservation)) {
        if (freed.has(`${reservation.id}#${seatNo}`)) continue;
        if (!seats.hold(seatNo, reservation) || !seats.pay(seatNo))
          throw new Error(
            `seat ${seatNo} of ${reservation.scheduleId} is claimed by ${reservation.id} and another reservation`,
          );
        this.#paid++;
      }
      this.#addLive(reservation);
    }
    for (const reservation of held) {
      this.#claim(reservation);
      this.#addHeld(reservation);
    }
    // Once every seat is claimed: an expiry may hand its seats to the waitlist as new holds.
    for (const reservation of held) if (reservation.expiresAt <= now) this.#expire(reservation, tx);
    ended.sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
    for (const reservation of ended) this.#ended.set(reservation.id, reservation);
  }

  /** `held → expired` at its deadline, every seat becomes available (then the waitlist may take them). */
  #expire(reservation: ReservationRecord, tx: ChangeSet): void {
    const seats = this.#seats(reservation);
    for (const { seatNo } of seatsOf(reservation)) seats.expire(seatNo);
    this.#end(reservation, TIMEOUT, reservation.expiresAt, tx);
    this.#freed(reservation, tx);
  }

  #end(
    reservation: ReservationRecord,
    event: ReservationEvent['type'] | Timeout,
    at: number,
    tx: ChangeSet,
  ): void {
    this.#removeHeld(reservation);
    this.#removeLive(reservation);
    reservation.status = this.#next(reservation, event);
    reservation.endedAt = at;
    this.#ended.set(reservation.id, reservation);
    tx.put('reservations', reservation.id, reservation);
  }

  /** The reservation machine's answer; an event it refuses there is a programming error. */
  #next(
    reservation: ReservationRecord,
    event: ReservationEvent['type'] | Timeout,
  ): ReservationStatus {
    const next = reservationLifecycle.next(reservation.status, event);
    if (next === undefined)
      throw new Error(
        `reservation ${reservation.id} in "${reservation.status}" cannot take ${event}`,
      );
    return next;
  }

  #addHeld(reservation: ReservationRecord): void {
    let holds = this.#heldByUser.get(reservation.userId);
    if (!holds) this.#heldByUser.set(reservation.userId, (holds = new Set()));
    holds.add(reservation);
    this.#addLive(reservation);
    this.#deadlines.push(reservation.expiresAt, reservation);
    this.#held += seatsOf(reservation).length;
  }

  #removeHeld(reservation: ReservationRecord): void {
    const holds = this.#heldByUser.get(reservation.userId);
    if (!holds?.delete(reservation)) return;
    if (holds.size === 0) this.#heldByUser.delete(reservation.userId);
    this.#held -= seatsOf(reservation).length;
  }

  #addLive(reservation: ReservationRecord): void {
    let live = this.#liveByUser.get(reservation.userId);
    if (!live) this.#liveByUser.set(reservation.userId, (live = new Set()));
    live.add(reservation);
  }

  #removeLive(reservation: ReservationRecord): void {
    const live = this.#liveByUser.get(reservation.userId);
    if (!live?.delete(reservation)) return;
    if (live.size === 0) this.#liveByUser.delete(reservation.userId);
  }

  #seats(reservation: ReservationRecord) {
    return this.#catalog.schedule(reservation.scheduleId)!.seats;
  }
}
