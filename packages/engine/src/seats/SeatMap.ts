import type { SeatEvent, SeatState } from '../machines/seatMachine.js';
import { seatLifecycle } from '../machines/lifecycles.js';
import { TIMEOUT, type Timeout } from '../machines/compileLifecycle.js';
import type { ReservationRecord } from '../persistence/records.js';
import type { Seat } from '../types.js';
import type { SeatPicker } from './SeatPicker.js';

const codeOf = new Map<SeatState, number>(seatLifecycle.states.map((state, code) => [state, code]));
if (codeOf.get(seatLifecycle.initial) !== 0)
  throw new Error('the seat machine must start in its first state');

/**
 * The seats of one schedule. Each seat is the snapshot of a {@link seatMachine}
 * kept as plain data: its state is one byte (an index into the machine's
 * states; 0 is `available`, so untouched seats cost nothing more) and its
 * context is the reservation occupying it. Transitions are looked up in the
 * compiled seat lifecycle.
 */
export class SeatMap {
  readonly totalSeats: number;
  readonly #states: Uint8Array;
  readonly #occupants = new Map<number, ReservationRecord>();
  #available: number;
  #held = 0;
  #version = 0;
  #cache: { version: number; seats: readonly Seat[] } | undefined;
  #picker: SeatPicker | undefined;

  constructor(totalSeats: number) {
    this.totalSeats = totalSeats;
    this.#states = new Uint8Array(totalSeats + 1);
    this.#available = totalSeats;
  }

  get availableCount(): number {
    return this.#available;
  }

  /** Seats held now (a room's sold-out check, SPEC §12). */
  get heldCount(): number {
    return this.#held;
  }

  /** Changes whenever a seat does. */
  get version(): number {
    return this.#version;
  }

  state(seatNo: number): SeatState {
    return seatLifecycle.states[this.#states[seatNo]!]!;
  }

  /** The reservation holding or having bought the seat. */
  occupant(seatNo: number): ReservationRecord | undefined {
    return this.#occupants.get(seatNo);
  }

  /** `available --HOLD--> held` for one seat of `reservation`; false when the machine refuses. */
  hold(seatNo: number, reservation: ReservationRecord): boolean {
    if (!this.#fire(seatNo, 'HOLD')) return false;
    this.#occupants.set(seatNo, reservation);
    return true;
  }

  /** Whether a seat is available (for building a picker). */
  isAvailable = (seatNo: number): boolean => this.#states[seatNo] === 0;

  /**
   * Keeps `picker` told of every seat that becomes available or stops being
   * so, from now on (it was built from {@link isAvailable}).
   */
  attach(picker: SeatPicker): void {
    this.#picker = picker;
  }

  /** `held --RELEASE--> available`. */
  release(seatNo: number): boolean {
    return this.#fire(seatNo, 'RELEASE');
  }

  /** `held --after holdTtl--> available`. */
  expire(seatNo: number): boolean {
    return this.#fire(seatNo, TIMEOUT);
  }

  /** `held --PAY--> paid`. */
  pay(seatNo: number): boolean {
    return this.#fire(seatNo, 'PAY');
  }

  /** `paid --REFUND--> available` (its ticket was refunded, SPEC §11). */
  refund(seatNo: number): boolean {
    return this.#fire(seatNo, 'REFUND');
  }

  /** Available seats, ascending; rebuilt only after a seat changed. Do not mutate. */
  availableSeats(
    priceOf: (seatNo: number) => number,
    categoryOf: (seatNo: number) => string | undefined = () => undefined,
  ): readonly Seat[] {
    if (this.#cache?.version === this.#version) return this.#cache.seats;
    const seats: Seat[] = [];
    const states = this.#states;
    for (let seatNo = 1; seatNo <= this.totalSeats; seatNo++) {
      if (states[seatNo] !== 0) continue;
      const category = categoryOf(seatNo);
      seats.push(
        category === undefined
          ? { seatNo, price: priceOf(seatNo) }
          : { seatNo, price: priceOf(seatNo), category },
      );
    }
    this.#cache = { version: this.#version, seats: Object.freeze(seats) };
    return this.#cache.seats;
  }

  #fire(seatNo: number, event: SeatEvent['type'] | Timeout): boolean {
    const from = this.state(seatNo);
    const to = seatLifecycle.next(from, event);
    if (to === undefined) return false;
    this.#states[seatNo] = codeOf.get(to)!;
    if (to === 'available') this.#occupants.delete(seatNo);
    if (from === 'available') this.#available--;
    if (to === 'available') this.#available++;
    if ((from === 'available') !== (to === 'available'))
      this.#picker?.set(seatNo, to === 'available');
    if (from === 'held') this.#held--;
    if (to === 'held') this.#held++;
    this.#version++;
    return true;
  }
}
