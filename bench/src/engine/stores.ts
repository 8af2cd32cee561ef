import { MemoryStore, type Change, type Store, type StoreContents } from '@usher/engine';

/**
 * A store that keeps nothing: it isolates the engine's own memory and CPU from
 * any store's. Only for measuring; it is not durable and never reloads.
 */
export class DiscardStore implements Store {
  async load(): Promise<StoreContents | null> {
    return null;
  }
  append(_changes: readonly Change[]): Promise<void> {
    return Promise.resolve();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  async close(): Promise<void> {}
}

export type StoreKind = 'discard' | 'memory';

export function openStore(kind: StoreKind): Store {
  return kind === 'discard' ? new DiscardStore() : new MemoryStore();
}
