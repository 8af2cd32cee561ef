import type {
  ConcertRecord,
  EngineConfig,
  IdempotencyRecord,
  PriceTier,
  ScheduleRecord,
  TokenEndReason,
} from '@usher/engine';
import { isAbandoned, statusAt, type Lifecycles, type TokenState } from '@usher/engine/rules';
import { ROOM_COLUMNS } from './room.js';
import { RESERVATION_COLUMNS } from './steps.js';

/**
 * The SQL that reads the views the rules decide on, and the mapping of its
 * rows to the rules' types. Every view is one statement (one snapshot, one
 * round trip): the command's token, plus whatever the command looks at; the
 * views of many commands of one kind are read by the same statement at once.
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
  /** Expired for a reason (migration 10): `sold_out`. */
  readonly reason: TokenEndReason | null;
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

/** The token row's columns (over `tokens t`), with `tick` and `gone_below` for a waiting one; `cutoff` is `now − waitingTtl`. */
function tokenColumns(cutoff: string): string {
  return `t.token, t.user_id, t.status, t.seq, t.line, t.issued_at, t.expires_at, t.last_seen_at, t.reason,
      CASE WHEN t.status = 'waiting' THEN (SELECT coalesce(max(no), 0) FROM queue_ticks) END AS tick,
      CASE WHEN t.status = 'waiting' AND t.line IS NULL THEN ${goneBelow('t.seq', cutoff)} END AS gone_below`;
}

/**
 * What a command reads beside its token, as a batch: the columns (and any
 * joins) over `q` (the item: `q.now`, `q.p1`, `q.p2`, …) and `tk` (its
 * token row, all `NULL` when there is none).
 */
export interface ViewKind {
  readonly name: string;
  /** The SQL types of the item's parameters `q.p1`, `q.p2`, … */
  readonly params: readonly string[];
  /** Columns beside the token's, e.g. `(SELECT … WHERE user_id = tk.user_id) AS held`. */
  readonly columns?: string;
}

/**
 * The statement that reads many commands' views at once, one row per item
 * (`i`, from 1), in one snapshot: `$1` the tokens, `$2` each item's `now`,
 * `$3` `queueWaitingTtlMs`, `$4…` the parameters, one array each. A token is
 * found by its primary key (a lateral join: one index probe per item,
 * whatever the statistics say).
 */
export function viewSql(kind: ViewKind): string {
  const names = kind.params.map((_, i) => `, p${i + 1}`).join('');
  const arrays = kind.params.map((type, i) => `, $${i + 4}::${type}[]`).join('');
  return `SELECT q.i, tk.*${kind.columns ? `, ${kind.columns}` : ''}
    FROM unnest($1::text[], $2::bigint[]${arrays}) WITH ORDINALITY AS q (token, now${names}, i)
    LEFT JOIN LATERAL (SELECT ${tokenColumns('q.now - $3::bigint')} FROM tokens t WHERE t.token = q.token) tk ON true`;
}

/**
 * The issue view of many users at once (`$1` the users, `$2` each item's
 * `now`, `$3` `queueWaitingTtlMs`, `$4` `queueMaxActive`): the user's live
 * token, whether anyone waits, and (when nobody does) how many are active.
 * That is `usher_active_bound()` (migration 7) while it is under `maxActive`: then so
 * is the number of active tokens, and the issue rule only compares the two.
 * At the bound, the live active tokens are counted, up to `maxActive`.
 */
export const ISSUE_VIEW = `WITH r AS (SELECT ${ROOM_COLUMNS} FROM room WHERE id = 1),
    m AS (SELECT coalesce((SELECT max_active FROM r), $4::int) AS max_active)
  SELECT q.i, tk.*, w.someone_waits, (SELECT row_to_json(r) FROM r) AS room,
    CASE WHEN NOT w.someone_waits THEN
      (SELECT CASE WHEN b.bound < m.max_active THEN b.bound
                   ELSE (SELECT count(*) FROM (SELECT 1 FROM tokens WHERE status = 'active' AND expires_at > q.now LIMIT m.max_active) a) END
         FROM (SELECT usher_active_bound() AS bound) b)
    END AS active
  FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS q (user_id, now, i)
  CROSS JOIN m
  CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM tokens WHERE status = 'waiting' AND last_seen_at > q.now - $3::bigint) AS someone_waits) w
  LEFT JOIN LATERAL (SELECT ${tokenColumns('q.now - $3::bigint')} FROM tokens t
                      WHERE t.user_id = q.user_id AND t.status IN ('waiting', 'active')) tk ON true`;

/** A user's live holds, counted by user (so no cached plan can choose to scan every hold by deadline instead). */
const heldBy = (user: string) =>
  `(SELECT count(*) FILTER (WHERE expires_at > q.now) FROM reservations WHERE user_id = ${user} AND status = 'held')`;

/** A stored idempotent answer of the token's user for the key `q.p1`. */
const STORED = `(SELECT json_build_object('fingerprint', fingerprint, 'result', result, 'created_at', created_at)
    FROM idempotency_keys WHERE user_id = tk.user_id AND key = q.p1) AS stored`;

/** The views the commands read. */
export const views = {
  token: { name: 'token', params: [] },
  concerts: {
    name: 'concerts',
    params: [],
    columns: `(SELECT coalesce(json_agg(record), '[]') FROM concerts) AS concerts`,
  },
  schedules: {
    name: 'schedules',
    params: ['text'],
    columns: `(SELECT record FROM concerts WHERE id = q.p1) AS concert,
      (SELECT coalesce(json_agg(json_build_object('record', s.record, 'taken',
         (SELECT count(*) FROM reservations r
           WHERE r.schedule_id = s.id AND r.status IN ('held', 'paid') AND (r.status = 'paid' OR r.expires_at > q.now)))), '[]')
         FROM schedules s WHERE s.concert_id = q.p1) AS schedules`,
  },
  seats: {
    name: 'seats',
    params: ['text'],
    columns: `(SELECT record FROM schedules WHERE id = q.p1) AS schedule,
      (SELECT coalesce(array_agg(seat_no ORDER BY seat_no), '{}') FROM reservations
        WHERE schedule_id = q.p1 AND status IN ('held', 'paid') AND (status = 'paid' OR expires_at > q.now)) AS taken`,
  },
  reserve: {
    name: 'reserve',
    params: ['text', 'integer'],
    columns: `(SELECT record FROM schedules WHERE id = q.p1) AS schedule,
      (SELECT json_build_object('id', id, 'userId', user_id, 'status', status, 'expiresAt', expires_at)
         FROM reservations WHERE schedule_id = q.p1 AND seat_no = q.p2 AND status IN ('held', 'paid')) AS occupant,
      ${heldBy('tk.user_id')} AS held`,
  },
  reservation: {
    name: 'reservation',
    params: ['text'],
    columns: `(SELECT row_to_json(r) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = q.p1) r) AS reservation`,
  },
  reservations: {
    name: 'reservations',
    params: [],
    columns: `(SELECT json_agg(row_to_json(r)) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations
        WHERE user_id = tk.user_id AND status IN ('held', 'paid')) r) AS reservations`,
  },
  pay: {
    name: 'pay',
    params: ['text', 'text'],
    columns: `${STORED},
      (SELECT row_to_json(r) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = q.p2) r) AS reservation,
      coalesce((SELECT balance FROM wallets WHERE user_id = tk.user_id), 0) AS balance,
      ${heldBy('tk.user_id')} AS held`,
  },
  balance: {
    name: 'balance',
    params: ['text'],
    columns: `coalesce((SELECT balance FROM wallets WHERE user_id = q.p1), 0) AS balance`,
  },
  charge: {
    name: 'charge',
    params: ['text', 'text'],
    columns: `${STORED}, coalesce((SELECT balance FROM wallets WHERE user_id = q.p2), 0) AS balance`,
  },
} as const satisfies Record<string, ViewKind>;

/**
 * The token as the rules see it, or `undefined` when there is none or it
 * has ended by `now` without a keeper step having noticed yet (an active
 * token past its deadline, a waiting one not polled for `waitingTtl`): the
 * embedded engine forgets those before every command, so both answer alike.
 */
export function tokenState(
  row: TokenRow | undefined,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
): TokenState | undefined {
  if (!row?.token) return undefined;
  const token: TokenState = {
    token: row.token,
    userId: row.user_id!,
    status: row.status!,
    seq: Number(row.seq),
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
    ...(row.reason !== null && row.reason !== undefined ? { reason: row.reason } : {}),
  };
  if (token.status === 'active' && statusAt(token, now, lifecycles) === 'expired') return undefined;
  if (token.status === 'waiting' && isAbandoned(Number(row.last_seen_at), now, config))
    return undefined;
  return token;
}

/** Whether the row is a token the keeper has not caught up with yet (see {@link tokenState}). */
export function isStale(
  row: TokenRow | undefined,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
): boolean {
  return (
    Boolean(row?.token) &&
    row!.status !== 'expired' &&
    tokenState(row, now, config, lifecycles) === undefined
  );
}

/** Records come back from `jsonb` with their keys reordered; rebuild them as the catalog rule builds them, so equal records compare equal. */
export function concertRecord(json: Record<string, unknown>): ConcertRecord {
  const { id, title, artist, venue } = json as unknown as ConcertRecord;
  return {
    id,
    title,
    ...(artist === undefined ? {} : { artist }),
    ...(venue === undefined ? {} : { venue }),
  };
}

export function scheduleRecord(json: Record<string, unknown>): ScheduleRecord {
  const { id, concertId, startsAt, totalSeats, prices } = json as unknown as ScheduleRecord;
  return {
    id,
    concertId,
    startsAt,
    totalSeats,
    prices: prices.map(({ from, to, price }: PriceTier) => ({ from, to, price })),
  };
}

export function idempotencyRecord(
  json: Record<string, unknown> | null,
  userId: string,
  key: string,
): IdempotencyRecord | undefined {
  if (!json) return undefined;
  return {
    userId,
    key,
    fingerprint: json['fingerprint'] as string,
    result: json['result'],
    createdAt: Number(json['created_at']),
  };
}

/** Stored records' answers (replays) keep the key order of the first answer. */
export function orderedLike<T>(template: readonly string[], value: Record<string, unknown>): T {
  const result: Record<string, unknown> = {};
  for (const key of template) if (key in value) result[key] = value[key];
  return result as T;
}

export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
