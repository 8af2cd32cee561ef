/** A node of a {@link RecencyList}: the links live on the entity itself. */
export interface RecencyNode<T> {
  older: T | null;
  newer: T | null;
}

/**
 * An intrusive doubly linked list from least to most recently touched.
 * `touch` is O(1), so "who has not polled for N ms" is read from the oldest
 * end without scanning or re-sorting anything.
 */
export class RecencyList<T extends RecencyNode<T>> {
  #oldest: T | null = null;
  #newest: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get oldest(): T | null {
    return this.#oldest;
  }

  /** Appends `node` as the most recent. It must not be in the list. */
  append(node: T): void {
    node.older = this.#newest;
    node.newer = null;
    if (this.#newest) this.#newest.newer = node;
    else this.#oldest = node;
    this.#newest = node;
    this.#size++;
  }

  /** Moves `node`, which is in the list, to the most recent end. */
  touch(node: T): void {
    if (this.#newest === node) return;
    this.remove(node);
    this.append(node);
  }

  /** Unlinks `node`, which is in the list. */
  remove(node: T): void {
    if (node.older) node.older.newer = node.newer;
    else this.#oldest = node.newer;
    if (node.newer) node.newer.older = node.older;
    else this.#newest = node.older;
    node.older = null;
    node.newer = null;
    this.#size--;
  }
}
