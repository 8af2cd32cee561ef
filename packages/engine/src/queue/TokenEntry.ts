import { queueTokenLifecycle } from '../machines/lifecycles.js';
import type { QueueTokenState } from '../machines/queueTokenMachine.js';
import type { TokenRecord } from '../persistence/records.js';
import type { TokenEndReason } from '../types.js';
import type { TokenState } from '../rules/changes.js';
import { type Place } from '../rules/queue.js';
import { type RecencyNode } from './RecencyList.js';

/**
 * One token: the snapshot of a {@link queueTokenMachine} as plain data. The
 * links of the poll-recency list live on it, so the list costs no extra object.
 */
export class TokenEntry implements RecencyNode<TokenEntry>, TokenState {
  readonly token: string;
  readonly userId: string;
  /** Place in line by arrival: smaller came first. */
  readonly seq: number;
  /** Where it stands in line: `seq`, unless the opening's draw moved it (not persisted: the draw is, in the room record). */
  slot: number;
  readonly issuedAt: number;
  status: QueueTokenState = queueTokenLifecycle.initial;
  /** Active: end of the active period. Expired: when the kept record is forgotten. */
  expiresAt = 0;
  /** Last poll while waiting. Not persisted. */
  lastSeenAt: number;
  /** Expired for a reason (sold out): answered with it while kept. */
  reason: TokenEndReason | undefined = undefined;
  /** Its room (SPEC §12); `undefined`: the default room. */
  room: string | undefined = undefined;
  /** Joined with a presale code: stands in the room's head line. */
  priority = false;
  older: TokenEntry | null = null;
  newer: TokenEntry | null = null;

  constructor(token: string, userId: string, seq: number, issuedAt: number) {
    this.token = token;
    this.userId = userId;
    this.seq = seq;
    this.slot = seq;
    this.issuedAt = issuedAt;
    this.lastSeenAt = issuedAt;
  }

  /** The persisted form (see {@link TokenRecord}). */
  toJSON(): TokenRecord {
    const { token, userId, status, seq, issuedAt, expiresAt, reason } = this;
    const record: TokenRecord =
      status === 'waiting'
        ? { token, userId, status, seq, issuedAt }
        : reason === undefined
          ? { token, userId, status, seq, issuedAt, expiresAt }
          : { token, userId, status, seq, issuedAt, expiresAt, reason };
    if (this.room === undefined && !this.priority) return record;
    return {
      ...record,
      ...(this.room === undefined ? {} : { room: this.room }),
      ...(this.priority ? { priority: true } : {}),
    };
  }
}
