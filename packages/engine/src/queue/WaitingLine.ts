const INITIAL_CAPACITY = 1024;
const COMPACT_AFTER = 4096;

/**
 * A FIFO line that answers "what is my rank?" in O(log n).
 *
 * Every item gets an increasing sequence number; a Fenwick tree over the
 * sequence numbers counts who is still in line, so a rank is a prefix sum and
 * removing someone from the middle (they gave up) is a point update. Taking the
 * head is O(1) amortized: slots of people who left are skipped once. When the
 * head has moved past half of the slots they are dropped and the tree is
 * rebuilt in O(n), so memory follows the line, not its history.
 *
 * Ranks never go up for someone who stays: only people ahead can leave.
 *
 * Both engines keep their line in one: the embedded engine its waiting
 * tokens, the PostgreSQL engine each gateway's mirror of the line (line
 * numbers, fed by the keeper's published steps, see `reset`, `extendTo`,
 * `permute`).
 *
 * @example
 * ```ts
 * const line = new WaitingLine<string>();
 * const a = line.push('ann');
 * const b = line.push('bob');
 * line.rank(b); // 2
 * line.remove(a);
 * line.rank(b); // 1
 * line.shift(); // 'bob'
 * ```
 */
export class WaitingLine<T> {
  #base = 0;
  #items: (T | undefined)[] = [];
  #head = 0;
  #size = 0;
  #tree = new Int32Array(INITIAL_CAPACITY + 1);

  /** How many are in line. */
  get size(): number {
    return this.#size;
  }

  /** The sequence number the next {@link push} will get. */
  get nextSeq(): number {
    return this.#base + this.#items.length;
  }

  /** The highest sequence number given so far, whoever has left since. */
  get end(): number {
    return this.nextSeq - 1;
  }

  /**
   * Starts over with `seqs` (ascending) in line, `itemAt(i)` at `seqs[i]`, and
   * `end` the highest sequence number given so far. O(end − seqs[0]).
   */
  reset(seqs: ArrayLike<number>, end: number, itemAt: (index: number) => T): void {
    const base = seqs.length > 0 ? seqs[0]! : end + 1;
    this.#base = base;
    this.#items = new Array<T | undefined>(end - base + 1).fill(undefined);
    this.#head = 0;
    this.#size = seqs.length;
    for (let i = 0; i < seqs.length; i++) this.#items[seqs[i]! - base] = itemAt(i);
    this.#rebuild(Math.max(INITIAL_CAPACITY, 2 * this.#items.length) + 1);
  }

  /** Puts `item` at every sequence number after {@link end} up to `end` (arrivals numbered densely). */
  extendTo(end: number, item: T): void {
    for (let seq = this.nextSeq; seq <= end; seq++) this.push(item, seq);
  }

  /**
   * Moves whoever is at each sequence number of `from..to` to `move(seq)`, a
   * permutation of `from..to` (an opening's draw: the numbers are then places
   * in the drawn order). O(line's window).
   */
  permute(from: number, to: number, move: (seq: number) => number): void {
    const moved: { seq: number; item: T }[] = [];
    for (let slot = this.#head; slot < this.#items.length; slot++) {
      const item = this.#items[slot];
      if (item === undefined) continue;
      const seq = this.#base + slot;
      moved.push({ seq: seq >= from && seq <= to ? move(seq) : seq, item });
    }
    moved.sort((a, b) => a.seq - b.seq);
    this.reset(
      moved.map((entry) => entry.seq),
      this.end,
      (i) => moved[i]!.item,
    );
  }

  /**
   * Puts `item` at the back of the line and returns its sequence number. A
   * larger `seq` may be given to restore a line that had gaps.
   */
  push(item: T, seq: number = this.nextSeq): number {
    if (this.#size === 0) this.#reset(seq);
    if (seq < this.nextSeq)
      throw new RangeError(`sequence ${seq} is behind the line (next is ${this.nextSeq})`);
    while (this.nextSeq < seq) this.#items.push(undefined);
    const slot = this.#items.length;
    if (slot + 1 >= this.#tree.length) this.#rebuild(this.#tree.length * 2);
    this.#items.push(item);
    this.#add(slot, 1);
    this.#size++;
    return seq;
  }

  /** Takes `seq` out of the line wherever it stands; `false` if it was not in line. */
  remove(seq: number): boolean {
    const slot = seq - this.#base;
    if (slot < this.#head || slot >= this.#items.length || this.#items[slot] === undefined)
      return false;
    this.#items[slot] = undefined;
    this.#add(slot, -1);
    this.#size--;
    // The head left (admitted, abandoned): memory follows the line, not its history.
    if (slot === this.#head) this.#skipGaps();
    return true;
  }

  /** 1-based rank of `seq` among those in line, or 0 when it is not in line. */
  rank(seq: number): number {
    const slot = seq - this.#base;
    if (slot < this.#head || slot >= this.#items.length || this.#items[slot] === undefined)
      return 0;
    let sum = 0;
    for (let i = slot + 1; i > 0; i -= i & -i) sum += this.#tree[i]!;
    return sum;
  }

  /** Everyone in line, first to last. */
  *values(): IterableIterator<T> {
    for (let slot = this.#head; slot < this.#items.length; slot++) {
      const item = this.#items[slot];
      if (item !== undefined) yield item;
    }
  }

  /** Takes the first in line. */
  shift(): T | undefined {
    this.#skipGaps();
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#items[this.#head] = undefined;
    this.#add(this.#head, -1);
    this.#size--;
    this.#head++;
    this.#maybeCompact();
    return item;
  }

  #skipGaps(): void {
    while (this.#head < this.#items.length && this.#items[this.#head] === undefined) this.#head++;
    this.#maybeCompact();
  }

  #add(slot: number, delta: number): void {
    const tree = this.#tree;
    for (let i = slot + 1; i < tree.length; i += i & -i) tree[i]! += delta;
  }

  #maybeCompact(): void {
    if (this.#head < COMPACT_AFTER || this.#head * 2 < this.#items.length) return;
    this.#base += this.#head;
    this.#items = this.#items.slice(this.#head);
    this.#head = 0;
    this.#rebuild(Math.max(INITIAL_CAPACITY, this.#items.length * 2) + 1);
  }

  #reset(seq: number): void {
    // An empty line's tree is all zeros already; only shrink it after a storm.
    this.#base = seq;
    this.#items = [];
    this.#head = 0;
    if (this.#tree.length > INITIAL_CAPACITY + 1) this.#tree = new Int32Array(INITIAL_CAPACITY + 1);
  }

  /** Linear-time Fenwick build over the current slots. */
  #rebuild(length: number): void {
    const tree = new Int32Array(length);
    const items = this.#items;
    for (let i = 1; i < length; i++) {
      if (i <= items.length && items[i - 1] !== undefined) tree[i]! += 1;
      const parent = i + (i & -i);
      if (parent < length) tree[parent]! += tree[i]!;
    }
    this.#tree = tree;
  }
}
