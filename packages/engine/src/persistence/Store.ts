import type { CollectionName, Records } from './records.js';

/** One change: put `value` under `key` in `collection`, or delete it when `value` is `null`. */
export type Change = {
  [C in CollectionName]: readonly [collection: C, key: string, value: Records[C] | null];
}[CollectionName];

/** Everything a store holds, one map per collection. */
export type StoreContents = { [C in CollectionName]: Map<string, Records[C]> };

/**
 * The engine's persistence port. A store keeps collections of JSON records and
 * applies a command's changes atomically, in order.
 *
 * Contract (checked by one test suite against every store):
 * - `append` takes a snapshot of the changes before it returns (callers keep
 *   mutating their objects), and applies them all or none.
 * - The promise of `append` resolves once those changes, and every change
 *   appended before them, are durable. It rejects if they cannot be made
 *   durable; the store is then failed and rejects everything after.
 * - `flush` resolves once everything appended so far is durable.
 * - `load` returns what is durable, or `null` for a store never written to.
 */
export interface Store {
  load(): Promise<StoreContents | null>;
  append(changes: readonly Change[]): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh set of empty collections. */
export function emptyContents(): StoreContents {
  return {
    concerts: new Map(),
    schedules: new Map(),
    tokens: new Map(),
    reservations: new Map(),
    wallets: new Map(),
    payments: new Map(),
    idempotency: new Map(),
    room: new Map(),
    counters: new Map(),
    spent: new Map(),
    rooms: new Map(),
    codes: new Map(),
    tickets: new Map(),
    waitlist: new Map(),
  };
}

/** Applies `changes` to `contents` in place. Values are stored as given. */
export function applyChanges(contents: StoreContents, changes: readonly Change[]): void {
  for (const [collection, key, value] of changes) {
    const map = contents[collection] as Map<string, unknown>;
    if (value === null) map.delete(key);
    else map.set(key, value);
  }
}
