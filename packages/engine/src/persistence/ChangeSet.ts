import type { Change } from './Store.js';
import type { CollectionName, Records } from './records.js';

/** The changes one command makes, appended to the store as one atomic record. */
export class ChangeSet {
  readonly changes: Change[] = [];

  put<C extends CollectionName>(collection: C, key: string, value: Records[C]): void {
    this.changes.push([collection, key, value] as unknown as Change);
  }

  delete(collection: CollectionName, key: string): void {
    this.changes.push([collection, key, null] as Change);
  }

  get size(): number {
    return this.changes.length;
  }
}
