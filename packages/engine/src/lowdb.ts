export { LowdbStore, type LowdbStoreOptions } from './persistence/lowdb/LowdbStore.js';
export { StoreCorruptedError } from './persistence/StoreCorruptedError.js';
