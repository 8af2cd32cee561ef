import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { storeContract } from './storeContract.js';

storeContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { open: () => store, cleanup: async () => undefined };
});

storeContract('LowdbStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'usher-store-'));
  return {
    open: () => new LowdbStore(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

storeContract('LowdbStore, compacting at every record', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'usher-store-'));
  return {
    open: () => new LowdbStore(dir, { segmentBytes: 1 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
