import {
  applyChanges,
  emptyContents,
  type Change,
  type Store,
  type StoreContents,
} from './Store.js';

/**
 * A store that keeps everything in memory: for unit tests and throwaway
 * engines. It copies records through JSON exactly as a file store would, so a
 * "restart" on the same `MemoryStore` sees what a real store would have kept.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * const engine = await createEngine({ store });
 * // ...
 * await engine.close();
 * const restarted = await createEngine({ store });
 * ```
 */
export class MemoryStore implements Store {
  #contents: StoreContents | null = null;
  #closed = false;

  /** Opens the store (again, after `close`, as a restarted process would) and reads it. */
  async load(): Promise<StoreContents | null> {
    this.#closed = false;
    if (this.#contents === null) return null;
    const copy = emptyContents();
    for (const [name, map] of Object.entries(this.#contents) as [
      keyof StoreContents,
      Map<string, unknown>,
    ][]) {
      for (const [key, value] of map)
        (copy[name] as Map<string, unknown>).set(key, JSON.parse(JSON.stringify(value)));
    }
    return copy;
  }

  append(changes: readonly Change[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('store is closed'));
    const copied = JSON.parse(JSON.stringify(changes)) as Change[];
    applyChanges((this.#contents ??= emptyContents()), copied);
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
