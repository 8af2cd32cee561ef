import type { PriceTier } from '../persistence/records.js';
import { FreeRuns } from './FreeRuns.js';

/** What a {@link SeatPicker} needs of a schedule: its size, rows and price tiers (a named tier is a category). */
export interface PickerLayout {
  readonly totalSeats: number;
  /** Seats per row; absent: all seats are one row. */
  readonly seatsPerRow?: number | undefined;
  readonly prices: readonly PriceTier[];
}

/**
 * Best available for one schedule (SPEC §10), without a scan: one
 * {@link FreeRuns} over every seat, and one per named price tier (a
 * category). Both engines keep one per schedule in memory (the embedded
 * engine beside its seat map, a PostgreSQL gateway in its mirror), mark seats
 * as they are taken and freed, and let the rule ask it. Asking costs
 * O(log n) per seat picked (plus the number of tiers that share the name).
 *
 * @example
 * ```ts
 * const picker = new SeatPicker(schedule, (seatNo) => seatIsFree(seatNo));
 * picker.pick(2, { category: 'VIP', together: true }); // [7, 8], or undefined
 * picker.set(7, false); // seat 7 was taken
 * ```
 */
export class SeatPicker {
  readonly #all: FreeRuns;
  readonly #tiers: readonly PriceTier[];
  /** One tree per named tier, by tier index. */
  readonly #tierRuns: (FreeRuns | undefined)[];
  readonly #byCategory = new Map<string, FreeRuns[]>();

  /** `isFree` says which seats are free now (read once). */
  constructor(layout: PickerLayout, isFree: (seatNo: number) => boolean) {
    const perRow = layout.seatsPerRow ?? 0;
    this.#all = new FreeRuns(1, layout.totalSeats, perRow, isFree);
    this.#tiers = layout.prices;
    this.#tierRuns = layout.prices.map((tier) => {
      if (tier.name === undefined) return undefined;
      const runs = new FreeRuns(tier.from, tier.to, perRow, isFree);
      let list = this.#byCategory.get(tier.name);
      if (!list) this.#byCategory.set(tier.name, (list = []));
      list.push(runs);
      return runs;
    });
  }

  /** Free seats, of one category or of all. */
  freeCount(category?: string): number {
    if (category === undefined) return this.#all.freeCount;
    let count = 0;
    for (const runs of this.#byCategory.get(category) ?? []) count += runs.freeCount;
    return count;
  }

  /** Whether some tier carries this name. */
  hasCategory(category: string): boolean {
    return this.#byCategory.has(category);
  }

  /** Marks a seat free or taken: O(log n). */
  set(seatNo: number, free: boolean): void {
    this.#all.set(seatNo, free);
    const tier = tierIndex(this.#tiers, seatNo);
    this.#tierRuns[tier]?.set(seatNo, free);
  }

  /**
   * The best `quantity` free seats, ascending, or `undefined` when there are
   * not so many: with `together`, the block of consecutive seats of one row
   * with the lowest first seat; otherwise the lowest free seats. Of the named
   * category only, when given (an unknown name finds nothing: check
   * {@link hasCategory} first).
   */
  pick(
    quantity: number,
    options: { readonly category?: string | undefined; readonly together: boolean },
  ): number[] | undefined {
    const trees =
      options.category === undefined ? [this.#all] : (this.#byCategory.get(options.category) ?? []);
    if (options.together) {
      for (const runs of trees) {
        const first = runs.firstBlock(quantity);
        if (first !== undefined) return Array.from({ length: quantity }, (_, i) => first + i);
      }
      return undefined;
    }
    const seats: number[] = [];
    for (const runs of trees) {
      for (let rank = 1; seats.length < quantity; rank++) {
        const seatNo = runs.nthFree(rank);
        if (seatNo === undefined) break;
        seats.push(seatNo);
      }
    }
    return seats.length === quantity ? seats : undefined;
  }
}

/** The index of the tier that holds `seatNo` (tiers cover the seats in order). */
export function tierIndex(tiers: readonly PriceTier[], seatNo: number): number {
  let lo = 0;
  let hi = tiers.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tiers[mid]!.to < seatNo) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
