import type { EngineConfig, TickReport } from '@usher/engine';
import {
  DEFAULT_ROOM,
  decideTick,
  decideUpdateRoom,
  isOpeningDue,
  keptUntil,
  newDrawSeed,
  type Lifecycles,
  type RoomState,
  type StateChange,
  type TickOutcome,
} from '@usher/engine/rules';
import { inTransaction, type Queryable } from '../database.js';
import { roomTick, type RoomPart, type TickRow } from '../QueueMirror.js';
import { readRoom, writeDrawCursor, writeRoom } from '../room.js';
import { abandonWaiters } from './abandonWaiters.js';
import { admit } from './admit.js';
import { expireHolds } from './expireHolds.js';
import { expireTokens } from './expireTokens.js';
import { lineUp } from './lineUp.js';
import { lastStep, nextAbandonAt, publishStep } from './publish.js';
import { sweep } from './sweep.js';
import { readOpeningRange, readTickViews, takePaidLogs, type RoomTickView } from './tickView.js';

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

/**
 * Runs `work` in a keeper transaction on `db`: the step lock (steps, room
 * updates and admissions at issue run one at a time), then the fencing check.
 */
function underStepLock<T>(db: Queryable, epoch: number | undefined, work: () => Promise<T>) {
  return inTransaction(db, async () => {
    await db.query('SELECT usher_lock_steps()');
    if (epoch !== undefined) {
      const { rowCount } = await db.query('SELECT 1 FROM keeper WHERE id = 1 AND epoch = $1', [
        epoch,
      ]);
      if (rowCount !== 1) throw new Deposed('a newer keeper took over');
    }
    return work();
  });
}

export interface StepResult {
  readonly report: TickReport;
  readonly tick: TickRow;
  readonly outcome: TickOutcome | undefined;
}

/**
 * One keeper step, in one transaction under the step lock:
 * 1. holds past their deadline expire;
 * 2. active tokens past their deadline expire (they are forgotten, as in the embedded engine);
 * 3. waiting tokens not polled for `waitingTtl` are abandoned (forgotten);
 * 4. arrivals (waiting tokens without a line) get the next line numbers, in `seq` order;
 * 5. a scheduler tick decides with the room (`decideTick`): sold out ends every waiting
 *    token, each kept with its reason as long as a paid token (a poll says why); a due
 *    opening draws the order of those who joined before it (a seed and a range of line
 *    numbers, kept in the room row: no token is rewritten); unless paused or before the
 *    opening, it admits the decided count, first in line first (in the drawn order);
 * 6. the step is published: a `queue_ticks` row (lines given, lines that left, the room) and a `NOTIFY`.
 *
 * Each write touches exactly the rows decided, or the step rolls back. Costs:
 * O(expired + abandoned + arrivals + admitted + payments since the last tick), each by an
 * index; nothing scans the line (sold-out, which ends all of it, updates every waiting row once).
 */
export function runStep(db: Queryable, now: number, options: StepOptions): Promise<StepResult> {
  return underStepLock(db, options.epoch, () => step(db, now, options));
}

/**
 * An operator's change of the room, in one transaction under the step lock:
 * the rule decides from the room as it is, the change is written, and a
 * catch-up step (expire, line up, no admission) publishes it, so every
 * engine's mirror sees the new room at once.
 */
export function runRoomUpdate(
  db: Queryable,
  now: number,
  patch: unknown,
  options: Omit<StepOptions, 'real'>,
  roomId: string = DEFAULT_ROOM,
): Promise<{ before: RoomState; after: RoomState }> {
  return underStepLock(db, options.epoch, async () => {
    const { room } = await readRoom(db, options.config, roomId);
    const decision = decideUpdateRoom(room, patch, now);
    for (const change of decision.changes)
      if (change.type === 'roomChanged') await writeRoom(db, change.room, roomId);
    if (decision.changes.length > 0) await step(db, now, { ...options, real: false });
    return decision.answer;
  });
}

/** The safety sweep (see `sweep`), in one transaction under the step lock. */
export function runSweep(
  db: Queryable,
  now: number,
  options: Omit<StepOptions, 'real'>,
): Promise<void> {
  return underStepLock(db, options.epoch, () => sweep(db, now, options.config, options.lifecycles));
}

async function step(db: Queryable, now: number, options: StepOptions): Promise<StepResult> {
  const { config, real } = options;
  const previous = await lastStep(db, config);

  await expireHolds(db, now, options.lifecycles);
  await expireTokens(db, now, options.lifecycles);
  const abandoned = await abandonWaiters(db, now, config);
  const before = (id: string) => (previous ? roomTick(previous, id) : undefined);
  const { seqEnd, arrivals } = await lineUp(db, (id) => before(id)?.lineEnd ?? 0);
  if (real) await takePaidLogs(db);

  // One tick serves every room: every room's view in one statement, each room decided on its own view,
  // the heads of the plain rooms' lines admitted in one call. O(rooms + due + arrivals + admitted).
  const views = await readTickViews(db, now);
  const stepped = new Map<string, RoomStepped>();
  for (const [id, view] of views) {
    const departed = abandoned.filter((left) => left.room === id).map((left) => left.line);
    stepped.set(
      id,
      await roomStep(db, now, options, id, view, before(id), departed, arrivals.get(id) ?? 0),
    );
  }
  await admitHeads(db, stepped);

  const parts = new Map<string, RoomPart>();
  for (const [id, room] of stepped) parts.set(id, room.part());
  const main = parts.get(DEFAULT_ROOM)!;
  const rooms: Record<string, RoomPart> = {};
  for (const [id, part] of parts) if (id !== DEFAULT_ROOM) rooms[id] = part;
  const tick: TickRow = {
    no: (previous?.no ?? 0) + 1,
    at: now,
    real,
    seqEnd,
    nextAbandonAt: await nextAbandonAt(db, now, config),
    ...main,
    rooms,
  };
  await publishStep(db, tick);
  // As the embedded engine reports it: the sums, and each room's figures when there are rooms of concerts.
  const totals = { admitted: 0, waiting: 0, active: 0 };
  const figures: Record<string, { admitted: number; waiting: number; active: number }> = {};
  for (const [id, part] of parts) {
    figures[id] = { admitted: part.admitted, waiting: part.waiting, active: part.active };
    totals.admitted += part.admitted;
    totals.waiting += part.waiting;
    totals.active += part.active;
  }
  const report: TickReport = parts.size > 1 ? { ...totals, rooms: figures } : totals;
  return { report, tick, outcome: stepped.get(DEFAULT_ROOM)!.outcome };
}

/** A room's part of a step, decided; its admission from the head of its line may still be pending. */
interface RoomStepped {
  readonly outcome: TickOutcome | undefined;
  /** The head of the line to admit, left to {@link admitHeads}: after which line, how many, until when. */
  head?: { after: number; count: number; expiresAt: number };
  /** Called once every admission is done: the room's part of the published step. */
  part(): RoomPart;
  /** Lines admitted by {@link admitHeads}. */
  admitted(lines: readonly number[]): void;
}

/**
 * One room's part of a step, after what was due expired and the arrivals
 * lined up: a scheduler tick decides with the room's own view (`decideTick`:
 * its waiting, code holders, active tokens, its concert's stock, its
 * opening), and each change is applied to that room's rows only (sold out
 * ends its own line). Admission in drawn order or with code holders first
 * is done here (`admit`); a plain one, from the head of the line, is left to
 * {@link admitHeads}, with every other room's.
 */
async function roomStep(
  db: Queryable,
  now: number,
  options: StepOptions,
  roomId: string,
  tickView: RoomTickView,
  previous: TickRow | undefined,
  abandoned: readonly number[],
  arrivals: number,
): Promise<RoomStepped> {
  const { config, lifecycles, real } = options;
  const departed = [...abandoned];
  const previousEnd = previous?.lineEnd ?? 0;
  let waiting = (previous?.waiting ?? 0) - abandoned.length + arrivals;
  const lineEnd = previousEnd + arrivals;

  let active = tickView.active;
  let { room } = tickView.read;
  let cursor = tickView.read.drawCursor;
  let admitted = 0;
  let outcome: TickOutcome | undefined;
  let head: RoomStepped['head'];
  if (real) {
    const view = {
      room,
      waiting,
      priorityWaiting: tickView.priorityWaiting,
      active,
      stock: tickView.stock,
      ...(isOpeningDue(room, now)
        ? { opening: await readOpeningRange(db, room.opensAt!, roomId) }
        : {}),
    };
    const decision = decideTick(view, now, lifecycles, newDrawSeed);
    outcome = decision.answer;
    for (const change of decision.changes as StateChange[]) {
      switch (change.type) {
        case 'tokensSoldOut': {
          // Each ended token is kept, saying why, as long as a paid token (the sweep forgets both).
          const { rows } = await db.query<{ lines: string[] }>(
            'SELECT usher_sell_out_room($1, $2, $3) AS lines',
            [roomId, waiting, keptUntil(now, config)],
          );
          departed.push(...rows[0]!.lines.map(Number));
          waiting = 0;
          break;
        }
        case 'roomChanged':
          await writeRoom(db, change.room, roomId);
          if (change.room.draw && change.room.draw.seed !== room.draw?.seed)
            cursor = change.room.draw.from;
          room = change.room;
          break;
        case 'tokensAdmitted': {
          const drawing = room.draw !== null && cursor <= room.draw.to;
          if (!drawing && tickView.priorityWaiting === 0) {
            head = { after: room.draw?.to ?? 0, count: change.count, expiresAt: change.expiresAt };
            break;
          }
          const result = await admit(db, roomId, change.count, change.expiresAt, room.draw, cursor);
          departed.push(...result.lines);
          admitted += result.lines.length;
          cursor = result.cursor;
          if (room.draw) await writeDrawCursor(db, roomId, cursor);
          break;
        }
        default:
          throw new Error(`a tick cannot apply a change of type ${change.type}`);
      }
    }
  }
  const stepped: RoomStepped = {
    outcome,
    ...(head ? { head } : {}),
    admitted(lines) {
      departed.push(...lines);
      admitted += lines.length;
    },
    part: () => ({
      lineEnd,
      departed,
      admitted,
      hadWaiting: outcome?.observed ?? false,
      waiting: waiting - admitted,
      active: active + admitted,
      room,
    }),
  };
  return stepped;
}

/**
 * The plain admissions of every room (no draw to follow, no code holders
 * first), in one call per deadline (`usher_admit_heads`: each room's head
 * picked in a MATERIALIZED CTE, admitted by key, the count checked).
 */
async function admitHeads(db: Queryable, stepped: Map<string, RoomStepped>): Promise<void> {
  const byDeadline = new Map<number, string[]>();
  for (const [id, room] of stepped) {
    if (!room.head) continue;
    const ids = byDeadline.get(room.head.expiresAt) ?? [];
    ids.push(id);
    byDeadline.set(room.head.expiresAt, ids);
  }
  for (const [expiresAt, ids] of byDeadline) {
    const { rows } = await db.query<{ room: string; lines: string[] }>(
      'SELECT room, lines FROM usher_admit_heads($1::text[], $2::bigint[], $3::integer[], $4)',
      [
        ids,
        ids.map((id) => stepped.get(id)!.head!.after),
        ids.map((id) => stepped.get(id)!.head!.count),
        expiresAt,
      ],
    );
    for (const row of rows) stepped.get(row.room)!.admitted(row.lines.map(Number));
  }
}
