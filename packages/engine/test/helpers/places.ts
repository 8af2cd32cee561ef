import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { MemoryStore, type Store, type StoreContents } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';

/** Where a store keeps its data; `open()` is what a (re)started process does. */
export interface Place {
  open(): Store;
  /** What is durable there now. Only while no engine has it open. */
  durable(): Promise<StoreContents>;
}

function lowdbPlace(options: { segmentBytes?: number } = {}) {
  return async (t: ExecutionContext): Promise<Place> => {
    const dir = await mkdtemp(join(tmpdir(), 'usher-engine-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    return {
      open: () => new LowdbStore(dir, options),
      durable: async () => {
        const store = new LowdbStore(dir);
        const contents = await store.load();
        await store.close();
        return contents!;
      },
    };
  };
}

export const places: Record<string, (t: ExecutionContext) => Promise<Place>> = {
  memory: async () => {
    const store = new MemoryStore();
    return { open: () => store, durable: async () => (await store.load())! };
  },
  lowdb: lowdbPlace(),
  /** Rotates after every write, so compactions run (and are interrupted by closes) all the time. */
  'lowdb compacting': lowdbPlace({ segmentBytes: 1 }),
};
