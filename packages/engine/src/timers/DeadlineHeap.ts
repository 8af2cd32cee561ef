/**
 * A binary min-heap of deadlines: one heap arms one timer for many entities.
 *
 * Entries are never removed early; whoever pops one checks that the entity
 * still waits for that exact deadline (lazy deletion), so extending or
 * cancelling costs nothing here.
 */
export class DeadlineHeap<T> {
  readonly #at: number[] = [];
  readonly #items: T[] = [];

  get size(): number {
    return this.#at.length;
  }

  /** The earliest deadline, or `Infinity` when empty. */
  peekAt(): number {
    return this.#at.length === 0 ? Infinity : this.#at[0]!;
  }

  push(at: number, item: T): void {
    const ats = this.#at;
    const items = this.#items;
    let i = ats.length;
    ats.push(at);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ats[parent]! <= at) break;
      ats[i] = ats[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    ats[i] = at;
    items[i] = item;
  }

  /** Removes and returns the earliest entry's item, if its deadline is at or before `now`. */
  popDue(now: number): T | undefined {
    if (this.#at.length === 0 || this.#at[0]! > now) return undefined;
    const top = this.#items[0]!;
    const lastAt = this.#at.pop()!;
    const lastItem = this.#items.pop()!;
    const n = this.#at.length;
    if (n > 0) {
      const ats = this.#at;
      const items = this.#items;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && ats[right]! < ats[left]! ? right : left;
        if (ats[child]! >= lastAt) break;
        ats[i] = ats[child]!;
        items[i] = items[child]!;
        i = child;
      }
      ats[i] = lastAt;
      items[i] = lastItem;
    }
    return top;
  }
}
