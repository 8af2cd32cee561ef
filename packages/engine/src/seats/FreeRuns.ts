/**
 * The free runs of a contiguous range of seats `from..to`, split into rows of
 * `seatsPerRow` (row 1 is seats `1..k`, row 2 `k+1..2k`, …: a run never
 * crosses a row's end): a segment tree whose nodes keep the free run at their
 * start (`pref`), at their end (`suf`), the longest inside (`best`) and the
 * free count. Marking a seat costs O(log n); the lowest block of `k`
 * consecutive free seats of one row, and the `r`-th free seat, cost O(log n)
 * each. No scan, whatever the size.
 *
 * Padding leaves past `to` are never free, so a node's prefix run spans it
 * only when every seat of it is free and no row ends inside it.
 *
 * @example
 * ```ts
 * const runs = new FreeRuns(1, 50, 25); // two rows of 25
 * runs.set(3, false);
 * runs.firstBlock(4); // 4: seats 4..7
 * runs.firstBlock(25); // 26: the whole second row
 * ```
 */
export class FreeRuns {
  readonly from: number;
  readonly to: number;
  readonly seatsPerRow: number;
  readonly #size: number;
  readonly #pref: Int32Array;
  readonly #suf: Int32Array;
  readonly #best: Int32Array;
  readonly #free: Int32Array;

  /** Every seat starts free unless `isFree` says otherwise. `seatsPerRow` 0: one row. */
  constructor(
    from: number,
    to: number,
    seatsPerRow = 0,
    isFree: (seatNo: number) => boolean = () => true,
  ) {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from)
      throw new RangeError(`FreeRuns needs 1 <= from <= to, got ${from}..${to}`);
    this.from = from;
    this.to = to;
    this.seatsPerRow = seatsPerRow;
    const n = to - from + 1;
    let size = 1;
    while (size < n) size *= 2;
    this.#size = size;
    this.#pref = new Int32Array(2 * size);
    this.#suf = new Int32Array(2 * size);
    this.#best = new Int32Array(2 * size);
    this.#free = new Int32Array(2 * size);
    for (let p = 0; p < n; p++) {
      if (!isFree(from + p)) continue;
      const leaf = size + p;
      this.#pref[leaf] = this.#suf[leaf] = this.#best[leaf] = this.#free[leaf] = 1;
    }
    for (let node = size - 1; node >= 1; node--) {
      const depth = 31 - Math.clz32(node);
      const len = size >> depth;
      this.#pull(node, (node - (1 << depth)) * len, len);
    }
  }

  /** Free seats in the range. */
  get freeCount(): number {
    return this.#free[1]!;
  }

  /** Whether `seatNo` (in range) is free. */
  isFree(seatNo: number): boolean {
    return this.#free[this.#size + seatNo - this.from] === 1;
  }

  /** Marks a seat of the range free or taken: O(log n). */
  set(seatNo: number, free: boolean): void {
    const p = seatNo - this.from;
    let node = this.#size + p;
    const v = free ? 1 : 0;
    if (this.#free[node] === v) return;
    this.#pref[node] = this.#suf[node] = this.#best[node] = this.#free[node] = v;
    let lo = p;
    let len = 1;
    while (node > 1) {
      node >>= 1;
      len *= 2;
      lo &= ~(len - 1);
      this.#pull(node, lo, len);
    }
  }

  /** The first seat of the lowest block of `k` consecutive free seats within one row, or `undefined`. */
  firstBlock(k: number): number | undefined {
    if (k < 1 || this.#best[1]! < k) return undefined;
    let node = 1;
    let lo = 0;
    let len = this.#size;
    while (len > 1) {
      const half = len >> 1;
      const left = 2 * node;
      if (this.#best[left]! >= k) {
        node = left;
      } else {
        if (this.#joins(lo + half) && this.#suf[left]! + this.#pref[left + 1]! >= k)
          return this.from + lo + half - this.#suf[left]!;
        node = left + 1;
        lo += half;
      }
      len = half;
    }
    return this.from + lo;
  }

  /** The `rank`-th free seat (1-based) in ascending order, or `undefined`. */
  nthFree(rank: number): number | undefined {
    if (rank < 1 || this.#free[1]! < rank) return undefined;
    let node = 1;
    let lo = 0;
    let len = this.#size;
    while (len > 1) {
      const half = len >> 1;
      const left = 2 * node;
      if (this.#free[left]! >= rank) {
        node = left;
      } else {
        rank -= this.#free[left]!;
        node = left + 1;
        lo += half;
      }
      len = half;
    }
    return this.from + lo;
  }

  /** Whether a run may continue from position `at - 1` to `at` (0-based): no row ends between them. */
  #joins(at: number): boolean {
    const k = this.seatsPerRow;
    return k === 0 || (this.from + at - 1) % k !== 0;
  }

  #pull(node: number, lo: number, len: number): void {
    const half = len >> 1;
    const l = 2 * node;
    const r = l + 1;
    const pref = this.#pref;
    const suf = this.#suf;
    const joins = this.#joins(lo + half);
    this.#free[node] = this.#free[l]! + this.#free[r]!;
    pref[node] = joins && pref[l] === half ? half + pref[r]! : pref[l]!;
    suf[node] = joins && suf[r] === half ? half + suf[l]! : suf[r]!;
    const across = joins ? suf[l]! + pref[r]! : 0;
    this.#best[node] = Math.max(this.#best[l]!, this.#best[r]!, across);
  }
}
