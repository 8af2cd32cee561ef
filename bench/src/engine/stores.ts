import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, type Change, type Store, type StoreContents } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';

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

export type StoreKind = 'discard' | 'memory' | 'lowdb' | 'lowdb-nofsync';

/** A store of `kind`; lowdb ones live in a temp folder that `cleanup` removes. */
export function openStore(
  kind: StoreKind,
  options: { segmentBytes?: number } = {},
): { store: Store; dir?: string; cleanup: () => void } {
  if (kind === 'discard') return { store: new DiscardStore(), cleanup: () => undefined };
  if (kind === 'memory') return { store: new MemoryStore(), cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-'));
  return {
    store: new LowdbStore(dir, { ...options, fsync: kind === 'lowdb' }),
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
