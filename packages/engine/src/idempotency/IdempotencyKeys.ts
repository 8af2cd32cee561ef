import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { IdempotencyRecord } from '../persistence/records.js';

/**
 * The first successful answer of each idempotent request, per user and key.
 *
 * Only successes are kept: a refused request changed nothing, so retrying it
 * with the same key (after charging the wallet, say) runs it again. Whether a
 * retry replays is the rules' call (`replayOf`). The map is
 * in creation order, so forgetting old keys reads from the front.
 */
export class IdempotencyKeys {
  readonly #records = new Map<string, IdempotencyRecord>();

  get size(): number {
    return this.#records.size;
  }

  /** The stored answer of this user's key, if any (the rules judge whether it replays). */
  find(userId: string, key: string | undefined): IdempotencyRecord | undefined {
    return key === undefined ? undefined : this.#records.get(recordKey(userId, key));
  }

  remember(record: IdempotencyRecord, tx: ChangeSet): void {
    const id = recordKey(record.userId, record.key);
    this.#records.set(id, record);
    tx.put('idempotency', id, record);
  }

  /** Forgets keys created at or before `before`. */
  purge(before: number, tx: ChangeSet): void {
    for (const [id, record] of this.#records) {
      if (record.createdAt > before) break;
      this.#records.delete(id);
      tx.delete('idempotency', id);
    }
  }

  restore(records: Iterable<IdempotencyRecord>): void {
    for (const record of [...records].sort((a, b) => a.createdAt - b.createdAt)) {
      this.#records.set(recordKey(record.userId, record.key), record);
    }
  }
}

function recordKey(userId: string, key: string): string {
  return JSON.stringify([userId, key]);
}
