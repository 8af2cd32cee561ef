export { LowdbStore, type LowdbStoreOptions } from './persistence/lowdb/LowdbStore.js';
export type { JournalStats } from './persistence/lowdb/journal.js';
export { StoreCorruptedError } from './persistence/StoreCorruptedError.js';
