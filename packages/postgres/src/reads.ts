import type {
  ConcertRecord,
  EngineConfig,
  IdempotencyRecord,
  PriceTier,
  ReservationRecord,
  ReservedSeat,
  ScheduleRecord,
  TokenEndReason,
} from '@usher/engine';
import {
  DEFAULT_ROOM,
  isAbandoned,
  statusAt,
  type Lifecycles,
  type RoomInput,
  type TokenState,
} from '@usher/engine/rules';

/**
 * How commands read the views the rules decide on, and the mapping of rows
 * to the rules' types. Every view is one statement (one snapshot, one round
 * trip): the command's token, plus whatever the command looks at (each
 * command family's module says what, see `commands/`); the views of many
 * commands of one kind are read by the same statement at once.
 */

/**
 * A reservation's columns; its `seat_no` is its first seat, `seats[0]` when it has seats (a reservation
 * whose first seat was refunded moves its own `seat_no` out of the way, migration 8).
 */
export const RESERVATION_COLUMNS =
  "id, user_id, schedule_id, coalesce((seats->0->>'seatNo')::integer, seat_no) AS seat_no, price, seats, amount, extensions, status, created_at, expires_at, ended_at, origin";

/** A reservation's seats as the rule builds them (`jsonb` reorders keys), or none for a row of one seat written before orders. */
export function reservedSeats(json: unknown): ReservedSeat[] | undefined {
  if (json === null || json === undefined) return undefined;
  return (json as ReservedSeat[]).map(({ seatNo, price, category }) =>
    category === undefined
      ? { seatNo: Number(seatNo), price: Number(price) }
      : { seatNo: Number(seatNo), price: Number(price), category },
  );
}

export function reservationRecord(row: Record<string, unknown>): ReservationRecord {
  const record: ReservationRecord = {
    id: row['id'] as string,
    userId: row['user_id'] as string,
    scheduleId: row['schedule_id'] as string,
    seatNo: Number(row['seat_no']),
    price: Number(row['price']),
    ...orderFields(row),
    status: row['status'] as ReservationRecord['status'],
    createdAt: Number(row['created_at']),
    expiresAt: Number(row['expires_at']),
  };
  if (Number(row['extensions'] ?? 0) > 0) record.extensions = Number(row['extensions']);
  if (row['ended_at'] !== null && row['ended_at'] !== undefined)
    record.endedAt = Number(row['ended_at']);
  // Offered from the waitlist (migration 9).
  if (row['origin'] === 'waitlist') return { ...record, origin: 'waitlist' };
  return record;
}

/** A reservation row's `seats` and `amount` (migration 3), as the record's fields (absent on a row written before orders). */
export function orderFields(row: Record<string, unknown>): {
  seats?: readonly ReservedSeat[];
  amount?: number;
} {
  const seats = reservedSeats(row['seats']);
  return {
    ...(seats === undefined ? {} : { seats }),
    ...(row['amount'] === null || row['amount'] === undefined
      ? {}
      : { amount: Number(row['amount']) }),
  };
}

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
  /** Expired for a reason (migration 2): `sold_out`. */
  readonly reason: TokenEndReason | null;
  /** Waiting only: the last published keeper step, as of this read. */
  readonly tick: string | null;
  /** Waiting without a line only: how many waiting tokens without a line, up to this one, were abandoned. */
  readonly gone_below: string | null;
  /** Joined with a presale code (migration 4): at the head of the line. */
  readonly priority?: boolean | null;
  /** Waiting with a code only: how many waiting tokens with a code joined before it. */
  readonly priority_ahead?: string | null;
  /** The room the token stands in (migration 7): `default` or its concert's id. */
  readonly room?: string | null;
}

/** The token row's columns (over `tokens t`), with `tick` and `gone_below` for a waiting one (`$3`: the waiting TTL). */
export const TOKEN_COLUMNS = `t.token, t.user_id, t.status, t.seq, t.line, t.issued_at, t.expires_at, t.last_seen_at, t.reason, t.room,
      CASE WHEN t.status = 'waiting' THEN (SELECT usher_last_tick()) END AS tick,
      CASE WHEN usher_arrival(t) THEN usher_gone_below(t.seq, q.now, $3::bigint) END AS gone_below,
      CASE WHEN t.status = 'waiting' THEN EXISTS (SELECT 1 FROM priority_tokens p WHERE p.token = t.token) END AS priority,
      CASE WHEN t.status = 'waiting' AND EXISTS (SELECT 1 FROM priority_tokens o WHERE o.token = t.token) THEN
        (SELECT count(*) FROM priority_tokens p JOIN tokens w ON w.token = p.token
          WHERE w.status = 'waiting' AND w.room = t.room AND p.seq < (SELECT o.seq FROM priority_tokens o WHERE o.token = t.token)) END AS priority_ahead`;

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
  /**
   * A statement of its own instead of {@link viewSql}'s, of the same shape: `$1` the keys, `$2` each
   * item's `now`, `$3` `queueWaitingTtlMs`, `$4…` the parameters; one row per item, numbered `i`.
   */
  readonly sql?: string;
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
    LEFT JOIN LATERAL (SELECT ${TOKEN_COLUMNS} FROM tokens t WHERE t.token = q.token) tk ON true`;
}

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
    ...(row.reason ? { reason: row.reason } : {}),
    ...(row.priority ? { priority: true } : {}),
    ...(row.room && row.room !== DEFAULT_ROOM ? { room: row.room } : {}),
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
  const { id, title, artist, venue, room } = json as unknown as ConcertRecord;
  return {
    id,
    title,
    ...(artist === undefined ? {} : { artist }),
    ...(venue === undefined ? {} : { venue }),
    ...(room === undefined ? {} : { room: roomInput(room) }),
  };
}

/** A concert's room as the catalog rule builds it (`checkRoomInput`'s order), from `jsonb`. */
function roomInput(json: RoomInput): RoomInput {
  const { opensAt, maxActive, admitPerTick, shuffle } = json;
  return {
    ...(opensAt === undefined ? {} : { opensAt }),
    ...(maxActive === undefined ? {} : { maxActive }),
    ...(admitPerTick === undefined ? {} : { admitPerTick }),
    ...(shuffle === undefined ? {} : { shuffle }),
  };
}

export function scheduleRecord(json: Record<string, unknown>): ScheduleRecord {
  const { id, concertId, startsAt, totalSeats, prices, seatsPerRow } =
    json as unknown as ScheduleRecord;
  // The same fields in the same order as the catalog rule builds them: loading a catalog again compares them.
  return {
    id,
    concertId,
    startsAt,
    totalSeats,
    prices: prices.map(({ from, to, price, name }: PriceTier) =>
      name === undefined ? { from, to, price } : { from, to, price, name },
    ),
    ...(seatsPerRow === undefined ? {} : { seatsPerRow }),
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
