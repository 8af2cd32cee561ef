import type { EngineConfig, ReservationRecord, TickReport } from '@usher/engine';
import {
  decideExpireHold,
  decideTick,
  decideUpdateRoom,
  drawnOrder,
  isAbandoned,
  isOpeningDue,
  keptUntil,
  newDrawSeed,
  statusAt,
  type Draw,
  type Lifecycles,
  type OpeningRange,
  type RoomState,
  type StateChange,
  type Stock,
  type TickOutcome,
} from '@usher/engine/rules';
import { STEP_LOCK, USHER_LOCKS, type Queryable } from './database.js';
import { TICK_COLUMNS, tickRow, type TickRow } from './QueueMirror.js';
import { readRoom, writeRoom } from './room.js';
import { forgetSpentChallenges } from './spentChallenges.js';

/** How many due entities one step handles at most; the rest wait for the next step. */
const BATCH = 10_000;

/** Thrown inside a step when the keeper's epoch is no longer the current one: a newer keeper exists. */
export class Deposed extends Error {
  override get name(): string {
    return 'Deposed';
  }
}

export interface StepOptions {
  readonly config: EngineConfig;
  readonly lifecycles: Lifecycles;
  /** A scheduler tick (expire, line up, admit) rather than a catch-up (expire, line up). */
  readonly real: boolean;
  /** The keeper's epoch, checked before anything is written; none for a step asked for by hand. */
  readonly epoch?: number;
}

export const RESERVATION_COLUMNS =
  'id, user_id, schedule_id, seat_no, price, status, created_at, expires_at, ended_at';

export function reservationRecord(row: Record<string, unknown>): ReservationRecord {
  const record: ReservationRecord = {
    id: row['id'] as string,
    userId: row['user_id'] as string,
    scheduleId: row['schedule_id'] as string,
    seatNo: Number(row['seat_no']),
    price: Number(row['price']),
    status: row['status'] as ReservationRecord['status'],
    createdAt: Number(row['created_at']),
    expiresAt: Number(row['expires_at']),
  };
  if (row['ended_at'] !== null && row['ended_at'] !== undefined)
    record.endedAt = Number(row['ended_at']);
  return record;
}

/**
 * Begins a keeper transaction on `client`: the step lock (steps and at-once
 * admissions run one at a time), then the fencing check.
 */
async function begin(client: Queryable, epoch: number | undefined): Promise<void> {
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock($1, $2)', [USHER_LOCKS, STEP_LOCK]);
  if (epoch !== undefined) {
    const { rowCount } = await client.query('SELECT 1 FROM keeper WHERE id = 1 AND epoch = $1', [
      epoch,
    ]);
    if (rowCount !== 1) throw new Deposed('a newer keeper took over');
  }
}

async function inTransaction<T>(
  client: Queryable,
  epoch: number | undefined,
  work: () => Promise<T>,
): Promise<T> {
  try {
    await begin(client, epoch);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Expires holds past their deadline, each at its own deadline (the reservation machine's timeout, via the rule). */
async function expireHolds(
  client: Queryable,
  now: number,
  lifecycles: Lifecycles,
): Promise<number> {
  const due = await client.query(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE status = 'held' AND expires_at <= $1 ORDER BY expires_at LIMIT ${BATCH}`,
    [now],
  );
  const ids: string[] = [];
  const ats: number[] = [];
  for (const row of due.rows) {
    for (const change of decideExpireHold(reservationRecord(row), now, lifecycles).changes) {
      if (change.type !== 'reservationEnded') continue;
      ids.push(change.id);
      ats.push(change.at);
    }
  }
  if (ids.length === 0) return 0;
  const { rowCount } = await client.query(
    `UPDATE reservations r SET status = 'expired', ended_at = x.at
       FROM unnest($1::text[], $2::bigint[]) AS x (id, at)
      WHERE r.id = x.id AND r.status = 'held' AND r.expires_at <= $3`,
    [ids, ats, now],
  );
  return rowCount ?? 0;
}

/**
 * One keeper step, in one transaction under the step lock:
 * 1. holds past their deadline expire;
 * 2. active tokens past their deadline expire (they are forgotten, as in the embedded engine);
 * 3. waiting tokens not polled for `waitingTtl` are abandoned (forgotten);
 * 4. arrivals (waiting tokens without a line) get the next line numbers, in `seq` order;
 * 5. a scheduler tick decides with the room (`decideTick`): sold out ends every waiting
 *    token; a due opening draws the order of those who joined before it (a seed and a range
 *    of line numbers, kept in the room row: no token is rewritten); unless paused or before
 *    the opening, it admits the decided count, first in line first (in the drawn order);
 * 6. the step is published: a `queue_ticks` row (lines given, lines that left, the room) and a `NOTIFY`.
 *
 * Costs: O(expired + abandoned + arrivals + admitted + payments since the last tick), each by
 * an index; nothing scans the line (sold-out, which ends all of it, deletes every waiting row once).
 */
export async function runStep(
  client: Queryable,
  now: number,
  options: StepOptions,
): Promise<{ report: TickReport; tick: TickRow; outcome: TickOutcome | undefined }> {
  return inTransaction(client, options.epoch, () => step(client, now, options));
}

/**
 * An operator's change of the room, in one transaction under the step lock:
 * the rule decides from the room as it is, the change is written, and a
 * catch-up step (expire, line up, no admission) publishes it, so every
 * engine's mirror sees the new room at once. `undefined` for no change.
 */
export async function runRoomUpdate(
  client: Queryable,
  now: number,
  patch: unknown,
  options: Omit<StepOptions, 'real'>,
): Promise<{ before: RoomState; after: RoomState }> {
  return inTransaction(client, options.epoch, async () => {
    const { room } = await readRoom(client, options.config);
    const decision = decideUpdateRoom(room, patch, now);
    for (const change of decision.changes)
      if (change.type === 'roomChanged') await writeRoom(client, change.room);
    if (decision.changes.length > 0) await step(client, now, { ...options, real: false });
    return decision.answer;
  });
}

async function step(
  client: Queryable,
  now: number,
  options: StepOptions,
): Promise<{ report: TickReport; tick: TickRow; outcome: TickOutcome | undefined }> {
  const { config, lifecycles, real } = options;
  const last = await client.query(
    `SELECT ${TICK_COLUMNS} FROM queue_ticks ORDER BY no DESC LIMIT 1`,
  );
  const previous = last.rows[0] ? tickRow(last.rows[0], config) : undefined;
  let lineEnd = previous?.lineEnd ?? 0;
  let waiting = previous?.waiting ?? 0;
  const departed: number[] = [];

  await expireHolds(client, now, lifecycles);

  const dueActive = await client.query<{
    token: string;
    user_id: string;
    seq: string;
    issued_at: string;
    expires_at: string;
  }>(
    `SELECT token, user_id, seq, issued_at, expires_at FROM tokens WHERE status = 'active' AND expires_at <= $1 LIMIT ${BATCH}`,
    [now],
  );
  const expired = dueActive.rows
    .filter(
      (row) =>
        statusAt(
          {
            token: row.token,
            userId: row.user_id,
            status: 'active',
            seq: Number(row.seq),
            issuedAt: Number(row.issued_at),
            expiresAt: Number(row.expires_at),
          },
          now,
          lifecycles,
        ) === 'expired',
    )
    .map((row) => row.token);
  if (expired.length > 0) {
    await client.query(
      `DELETE FROM tokens WHERE token = ANY($1) AND status = 'active' AND expires_at <= $2`,
      [expired, now],
    );
  }

  const cutoff = now - config.queueWaitingTtlMs;
  const dueWaiting = await client.query<{ token: string; last_seen_at: string }>(
    `SELECT token, last_seen_at FROM tokens WHERE status = 'waiting' AND last_seen_at <= $1 LIMIT ${BATCH}`,
    [cutoff],
  );
  const abandoned = dueWaiting.rows
    .filter((row) => isAbandoned(Number(row.last_seen_at), now, config))
    .map((row) => row.token);
  if (abandoned.length > 0) {
    const gone = await client.query<{ line: string | null }>(
      `DELETE FROM tokens WHERE token = ANY($1) AND status = 'waiting' AND last_seen_at <= $2 RETURNING line`,
      [abandoned, cutoff],
    );
    for (const { line } of gone.rows) {
      if (line === null) continue;
      departed.push(Number(line));
      waiting--;
    }
  }

  // Under the step lock nobody draws a number: everything up to seq_end is settled.
  const drawn = await client.query<{ seq_end: string }>(
    `SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS seq_end FROM token_seq`,
  );
  const seqEnd = Number(drawn.rows[0]!.seq_end);
  // Read, then written by token through the primary key: O(arrivals) whatever the planner knows.
  const unlined = await client.query<{ token: string }>(
    `SELECT token FROM tokens WHERE status = 'waiting' AND line IS NULL ORDER BY seq`,
  );
  const arrivalTokens = unlined.rows.map((row) => row.token);
  if (arrivalTokens.length > 0) {
    await client.query(
      `UPDATE tokens t SET line = $2::bigint + x.n
         FROM unnest($1::text[]) WITH ORDINALITY AS x (token, n)
        WHERE t.token = x.token AND t.status = 'waiting'`,
      [arrivalTokens, lineEnd],
    );
  }
  const arrivals = arrivalTokens.length;
  lineEnd += arrivals;
  waiting += arrivals;

  const activeNow = await client.query<{ count: string }>(
    `SELECT count(*) AS count FROM tokens WHERE status = 'active' AND expires_at > $1`,
    [now],
  );
  let active = Number(activeNow.rows[0]!.count);
  const read = await readRoom(client, config);
  let { room } = read;
  let cursor = read.drawCursor;
  let hadWaiting = false;
  let admitted = 0;
  let outcome: TickOutcome | undefined;
  if (real) {
    const view = {
      room,
      waiting,
      active,
      stock: await stock(client, now),
      ...(isOpeningDue(room, now) ? { opening: await openingRange(client, room.opensAt!) } : {}),
    };
    const decision = decideTick(view, now, lifecycles, newDrawSeed);
    outcome = decision.answer;
    hadWaiting = outcome.observed;
    for (const change of decision.changes as StateChange[]) {
      switch (change.type) {
        case 'tokensSoldOut': {
          // Every waiting token has a line by now (arrivals draw numbers only outside steps). Each is
          // kept, saying why it ended, as long as a paid token (the sweep forgets both).
          const gone = await client.query<{ line: string | null }>(
            `UPDATE tokens SET status = 'expired', expires_at = $1, reason = 'sold_out'
              WHERE status = 'waiting' RETURNING line`,
            [keptUntil(now, config)],
          );
          for (const { line } of gone.rows) {
            if (line === null) continue;
            departed.push(Number(line));
            waiting--;
          }
          break;
        }
        case 'roomChanged':
          await writeRoom(client, change.room);
          if (change.room.draw && change.room.draw.seed !== room.draw?.seed)
            cursor = change.room.draw.from;
          room = change.room;
          break;
        case 'tokensAdmitted': {
          const result = await admitFirst(
            client,
            change.count,
            change.expiresAt,
            room.draw,
            cursor,
          );
          departed.push(...result.lines);
          admitted += result.lines.length;
          cursor = result.cursor;
          await client.query(
            `UPDATE room SET admitted_total = admitted_total + $1, draw_cursor = $2 WHERE id = 1`,
            [result.lines.length, room.draw ? cursor : null],
          );
          break;
        }
        default:
          throw new Error(`a tick cannot apply a change of type ${change.type}`);
      }
    }
    waiting -= admitted;
    active += admitted;
  }

  const oldest = await client.query<{ min: string | null }>(
    `SELECT min(last_seen_at) AS min FROM tokens WHERE status = 'waiting'`,
  );
  const oldestSeen = oldest.rows[0]?.min;
  const nextAbandonAt =
    Math.min(now, oldestSeen === null || oldestSeen === undefined ? now : Number(oldestSeen)) +
    config.queueWaitingTtlMs;

  const tick: TickRow = {
    no: (previous?.no ?? 0) + 1,
    at: now,
    real,
    lineEnd,
    seqEnd,
    departed,
    admitted,
    hadWaiting,
    waiting,
    active,
    nextAbandonAt,
    room,
  };
  await client.query(
    `INSERT INTO queue_ticks (${TICK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      tick.no,
      tick.at,
      tick.real,
      tick.lineEnd,
      tick.seqEnd,
      tick.departed,
      tick.admitted,
      tick.hadWaiting,
      tick.waiting,
      tick.active,
      tick.nextAbandonAt,
      JSON.stringify(room),
    ],
  );
  await client.query(`SELECT pg_notify('usher_tick', $1)`, [String(tick.no)]);
  return { report: { admitted, waiting, active }, tick, outcome };
}

/**
 * What sold-out compares, from counters: the payments since the last tick
 * are taken from `paid_log` into `room.paid_seats` (O(payments since)); a
 * live hold is one indexed probe; the seats are summed over the schedules
 * (the catalog: a few rows), never counted seat by seat.
 */
async function stock(client: Queryable, now: number): Promise<Stock> {
  const { rows } = await client.query<{ paid: string | null; held: boolean; seats: string | null }>(
    `WITH taken AS (DELETE FROM paid_log RETURNING n),
          added AS (SELECT coalesce(sum(n), 0) AS n FROM taken),
          counted AS (UPDATE room SET paid_seats = paid_seats + added.n FROM added WHERE id = 1 AND added.n > 0 RETURNING paid_seats)
     SELECT coalesce((SELECT paid_seats FROM counted), (SELECT paid_seats FROM room WHERE id = 1)) AS paid,
            EXISTS (SELECT 1 FROM reservations WHERE status = 'held' AND expires_at > $1) AS held,
            (SELECT sum(total_seats) FROM schedules) AS seats`,
    [now],
  );
  const row = rows[0];
  return {
    totalSeats: Number(row?.seats ?? 0),
    heldSeats: row?.held ? 1 : 0,
    paidSeats: Number(row?.paid ?? 0),
  };
}

/** What an opening at `cut` draws: from the first line to the last one given to someone who joined before `cut` (two index reads). */
async function openingRange(client: Queryable, cut: number): Promise<OpeningRange | null> {
  const { rows } = await client.query<{ from: string | null; to: string | null }>(
    `SELECT (SELECT min(line) FROM tokens WHERE status = 'waiting') AS from,
            (SELECT line FROM tokens WHERE status = 'waiting' AND issued_at < $1 ORDER BY line DESC LIMIT 1) AS to`,
    [cut],
  );
  const { from, to } = rows[0] ?? {};
  return from === null || from === undefined || to === null || to === undefined
    ? null
    : { from: Number(from), to: Number(to) };
}

/**
 * Admits the first `count` waiting tokens in line order: through the draw
 * first (slot by slot from the cursor, a batch of candidate lines at a time,
 * each batch one indexed read), then by line number after it. O(admitted +
 * those who left the drawn part since the last tick). Answers the lines
 * admitted and the new cursor.
 */
async function admitFirst(
  client: Queryable,
  count: number,
  expiresAt: number,
  draw: Draw | null,
  cursor: number,
): Promise<{ lines: number[]; cursor: number }> {
  const chosen: number[] = [];
  if (draw && cursor <= draw.to) {
    const order = drawnOrder(draw);
    while (chosen.length < count && cursor <= draw.to) {
      const end = Math.min(draw.to, cursor + Math.max(256, 2 * (count - chosen.length)) - 1);
      const candidates: number[] = [];
      for (let slot = cursor; slot <= end; slot++) candidates.push(order.placeAt(slot));
      const { rows } = await client.query<{ line: string }>(
        `SELECT line FROM tokens WHERE status = 'waiting' AND line = ANY($1::bigint[])`,
        [candidates],
      );
      const waiting = new Set(rows.map((row) => Number(row.line)));
      for (const line of candidates) {
        if (chosen.length === count) break;
        cursor++;
        if (waiting.has(line)) chosen.push(line);
      }
    }
  }
  const lines: number[] = [];
  if (chosen.length > 0) {
    const { rows } = await client.query<{ line: string }>(
      `UPDATE tokens SET status = 'active', expires_at = $2 WHERE line = ANY($1::bigint[]) AND status = 'waiting' RETURNING line`,
      [chosen, expiresAt],
    );
    if (rows.length !== chosen.length)
      throw new Error(
        `admitted ${rows.length} of ${chosen.length} drawn lines: the line changed under the step lock`,
      );
    lines.push(...chosen);
  }
  if (lines.length < count) {
    const { rows } = await client.query<{ line: string }>(
      `UPDATE tokens SET status = 'active', expires_at = $2
        WHERE token IN (SELECT token FROM tokens WHERE status = 'waiting' AND line > $3 ORDER BY line LIMIT $1 FOR UPDATE)
          AND status = 'waiting'
        RETURNING line`,
      [
        count - lines.length,
        expiresAt,
        draw && cursor <= draw.to ? Number.MAX_SAFE_INTEGER : (draw?.to ?? 0),
      ],
    );
    lines.push(...rows.map((row) => Number(row.line)));
  }
  return { lines, cursor };
}

/**
 * The safety sweep, in one transaction under the step lock: overdue holds
 * expire; expired and cancelled reservations past their retention, keys past
 * `idempotencyTtl`, kept tokens past their keep time and old published steps
 * are forgotten.
 */
export async function runSweep(
  client: Queryable,
  now: number,
  options: Omit<StepOptions, 'real'>,
): Promise<void> {
  const { config, lifecycles } = options;
  await inTransaction(client, options.epoch, async () => {
    await expireHolds(client, now, lifecycles);
    await client.query(
      `DELETE FROM reservations WHERE status IN ('expired', 'cancelled') AND ended_at <= $1`,
      [now - config.reservationRetentionMs],
    );
    await client.query(`DELETE FROM idempotency_keys WHERE created_at <= $1`, [
      now - config.idempotencyTtlMs,
    ]);
    await client.query(`DELETE FROM tokens WHERE status = 'expired' AND expires_at <= $1`, [now]);
    await forgetSpentChallenges(client, now);
    // Engines that fell further behind than this reload the line from the tokens.
    await client.query(
      `DELETE FROM queue_ticks WHERE no < (SELECT max(no) FROM queue_ticks) - 10000`,
    );
  });
}
