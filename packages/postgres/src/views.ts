import type { ConcertRecord, EngineConfig, IdempotencyRecord, PriceTier, ScheduleRecord } from '@usher/engine';
import { isAbandoned, statusAt, type Lifecycles, type TokenState } from '@usher/engine/rules';

/**
 * The SQL that reads the views the rules decide on, and the mapping of its
 * rows to the rules' types. Every view is one statement (one snapshot, one
 * round trip): the command's token, plus whatever the command looks at.
 */

/** The columns of a token row as views read them. */
export interface TokenRow {
  readonly token: string | null;
  readonly user_id: string | null;
  readonly status: 'waiting' | 'active' | 'expired' | null;
  readonly seq: string | null;
  readonly line: string | null;
  readonly issued_at: string | null;
  readonly expires_at: string | null;
  readonly last_seen_at: string | null;
  /** Waiting only: the last published keeper step, as of this read. */
  readonly tick: string | null;
  /** Waiting without a line only: how many waiting tokens without a line, up to this one, were abandoned. */
  readonly gone_below: string | null;
}

/**
 * How many waiting tokens without a line, numbered up to `seq`, were
 * abandoned (not polled since `cutoff`) and not yet removed by a step. A
 * token without a line arrived after the last step, so none can be
 * abandoned before that step is `waitingTtl` old: while steps run, this is
 * 0 without looking (the count would scan every arrival since the step).
 */
export function goneBelow(seq: string, cutoff: string): string {
  return `(CASE WHEN ${cutoff} < coalesce((SELECT at FROM queue_ticks ORDER BY no DESC LIMIT 1), 0) THEN 0 ELSE
    (SELECT count(*) FROM tokens w WHERE w.status = 'waiting' AND w.line IS NULL AND w.seq <= ${seq} AND w.last_seen_at <= ${cutoff}) END)`;
}

/**
 * A CTE `tk` with the token row found by `where` (over `tokens t`), for a
 * view query: `WITH ${tokenCte(...)} SELECT tk.*, … FROM (SELECT 1) AS one LEFT JOIN tk ON true`.
 * `$now` and `$ttl` are the parameter numbers of the time and `queueWaitingTtlMs`.
 */
export function tokenCte(where: string, now: number, ttl: number): string {
  return `tk AS (
    SELECT t.token, t.user_id, t.status, t.seq, t.line, t.issued_at, t.expires_at, t.last_seen_at,
      CASE WHEN t.status = 'waiting' THEN (SELECT coalesce(max(no), 0) FROM queue_ticks) END AS tick,
      CASE WHEN t.status = 'waiting' AND t.line IS NULL THEN ${goneBelow('t.seq', `$${now}::bigint - $${ttl}::bigint`)} END AS gone_below
    FROM tokens t WHERE ${where}
  )`;
}

/**
 * The token as the rules see it, or `undefined` when there is none or it
 * has ended by `now` without a keeper step having noticed yet (an active
 * token past its deadline, a waiting one not polled for `waitingTtl`): the
 * embedded engine forgets those before every command, so both answer alike.
 */
export function tokenState(row: TokenRow | undefined, now: number, config: EngineConfig, lifecycles: Lifecycles): TokenState | undefined {
  if (!row?.token) return undefined;
  const token: TokenState = {
    token: row.token,
    userId: row.user_id!,
    status: row.status!,
    seq: Number(row.seq),
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
  };
  if (token.status === 'active' && statusAt(token, now, lifecycles) === 'expired') return undefined;
  if (token.status === 'waiting' && isAbandoned(Number(row.last_seen_at), now, config)) return undefined;
  return token;
}

/** Whether the row is a token the keeper has not caught up with yet (see {@link tokenState}). */
export function isStale(row: TokenRow | undefined, now: number, config: EngineConfig, lifecycles: Lifecycles): boolean {
  return Boolean(row?.token) && row!.status !== 'expired' && tokenState(row, now, config, lifecycles) === undefined;
}

/** Records come back from `jsonb` with their keys reordered; rebuild them as the catalog rule builds them, so equal records compare equal. */
export function concertRecord(json: Record<string, unknown>): ConcertRecord {
  const { id, title, artist, venue } = json as unknown as ConcertRecord;
  return { id, title, ...(artist === undefined ? {} : { artist }), ...(venue === undefined ? {} : { venue }) };
}

export function scheduleRecord(json: Record<string, unknown>): ScheduleRecord {
  const { id, concertId, startsAt, totalSeats, prices } = json as unknown as ScheduleRecord;
  return { id, concertId, startsAt, totalSeats, prices: prices.map(({ from, to, price }: PriceTier) => ({ from, to, price })) };
}

export function idempotencyRecord(json: Record<string, unknown> | null, userId: string, key: string): IdempotencyRecord | undefined {
  if (!json) return undefined;
  return { userId, key, fingerprint: json['fingerprint'] as string, result: json['result'], createdAt: Number(json['created_at']) };
}

/** Stored records' answers (replays) keep the key order of the first answer. */
export function orderedLike<T>(template: readonly string[], value: Record<string, unknown>): T {
  const result: Record<string, unknown> = {};
  for (const key of template) if (key in value) result[key] = value[key];
  return result as T;
}

export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
