const INITIAL_CAPACITY = 1024;
const COMPACT_AFTER = 4096;

/**
 * Who is still in the waiting line, by line number, answering "how many are
 * in line up to mine?" in O(log n): a Fenwick tree over a window of line
 * numbers. Line numbers are dense (the keeper gives them 1, 2, 3, … to
 * arrivals), so arrivals extend the window, departures (admitted or
 * abandoned) are point updates, and the window's start moves up as the head
 * of the line leaves; memory follows the line, not its history.
 *
 * Every engine keeps one, fed by the keeper's published steps.
 */
export class LineCounter {
  /** Line number of slot 0. */
  #base = 1;
  /** Highest line number known. */
  #end = 0;
  /** First slot that may still be present. */
  #head = 0;
  #size = 0;
  #present = new Uint8Array(INITIAL_CAPACITY);
  #tree = new Int32Array(INITIAL_CAPACITY + 1);

  /** How many are in line. */
  get size(): number {
    return this.#size;
  }

  /** The highest line number given so far. */
  get end(): number {
    return this.#end;
  }

  /** Starts over with exactly `lines` (ascending) in line, and `end` the highest given. */
  reset(lines: readonly number[], end: number): void {
    this.#base = lines[0] ?? end + 1;
    this.#end = end;
    this.#head = 0;
    this.#size = 0;
    const capacity = Math.max(INITIAL_CAPACITY, 2 * (end - this.#base + 1));
    this.#present = new Uint8Array(capacity);
    for (const line of lines) {
      this.#present[line - this.#base] = 1;
      this.#size++;
    }
    this.#rebuild(capacity);
  }

  /** Lines up to `end` arrived in line. */
  extendTo(end: number): void {
    if (end <= this.#end) return;
    if (this.#size === 0) {
      // An empty line needs no history: start the window at the first arrival.
      this.#base = this.#end + 1;
      this.#head = 0;
      this.#present.fill(0);
      this.#tree.fill(0);
    }
    const needed = end - this.#base + 1;
    if (needed > this.#present.length) this.#grow(needed);
    for (let line = this.#end + 1; line <= end; line++) {
      const slot = line - this.#base;
      this.#present[slot] = 1;
      this.#add(slot, 1);
      this.#size++;
    }
    this.#end = end;
  }

  /** `line` left the line; `false` if it was not in line. */
  remove(line: number): boolean {
    const slot = line - this.#base;
    if (slot < 0 || line > this.#end || this.#present[slot] !== 1) return false;
    this.#present[slot] = 0;
    this.#add(slot, -1);
    this.#size--;
    while (this.#head <= this.#end - this.#base && this.#present[this.#head] === 0) this.#head++;
    this.#maybeCompact();
    return true;
  }

  /**
   * Moves who is at each slot of `from..to` to `move(slot)`, a permutation
   * of `from..to` (the opening's draw: slots are then places in the drawn
   * order), and starts the window over at the first slot in line. O(window).
   */
  permute(from: number, to: number, move: (slot: number) => number): void {
    const slots: number[] = [];
    for (let i = this.#head; i <= this.#end - this.#base; i++) {
      if (this.#present[i] !== 1) continue;
      const slot = this.#base + i;
      slots.push(slot >= from && slot <= to ? move(slot) : slot);
    }
    slots.sort((a, b) => a - b);
    this.reset(slots, this.#end);
  }

  /** 1-based rank of `line` among those in line, or 0 when it is not in line. */
  rank(line: number): number {
    const slot = line - this.#base;
    if (slot < 0 || line > this.#end || this.#present[slot] !== 1) return 0;
    let sum = 0;
    for (let i = slot + 1; i > 0; i -= i & -i) sum += this.#tree[i]!;
    return sum;
  }

  #add(slot: number, delta: number): void {
    const tree = this.#tree;
    for (let i = slot + 1; i < tree.length; i += i & -i) tree[i]! += delta;
  }

  #grow(needed: number): void {
    let capacity = this.#present.length;
    while (capacity < needed) capacity *= 2;
    const present = new Uint8Array(capacity);
    present.set(this.#present);
    this.#present = present;
    this.#rebuild(capacity);
  }

  #maybeCompact(): void {
    if (this.#head < COMPACT_AFTER || this.#head * 2 < this.#end - this.#base + 1) return;
    const used = this.#end - this.#base + 1 - this.#head;
    const capacity = Math.max(INITIAL_CAPACITY, 2 * used);
    const present = new Uint8Array(capacity);
    present.set(this.#present.subarray(this.#head, this.#head + used));
    this.#base += this.#head;
    this.#head = 0;
    this.#present = present;
    this.#rebuild(capacity);
  }

  /** Linear-time Fenwick build over the present slots. */
  #rebuild(capacity: number): void {
    const length = capacity + 1;
    const tree = new Int32Array(length);
    const present = this.#present;
    for (let i = 1; i < length; i++) {
      tree[i]! += present[i - 1]!;
      const parent = i + (i & -i);
      if (parent < length) tree[parent]! += tree[i]!;
    }
    this.#tree = tree;
  }
}
