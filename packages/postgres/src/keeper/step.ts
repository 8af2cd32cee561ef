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
import { readRoom, roomIds, writeDrawCursor, writeRoom } from '../room.js';
import { abandonWaiters } from './abandonWaiters.js';
import { admit } from './admit.js';
import { expireHolds } from './expireHolds.js';
import { expireTokens } from './expireTokens.js';
import { lineUp } from './lineUp.js';
import { lastStep, nextAbandonAt, publishStep } from './publish.js';
import { sweep } from './sweep.js';
import {
  countActive,
  countPriority,
  readOpeningRange,
  readStock,
  takePaidLogs,
} from './tickView.js';

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
  const ids = await roomIds(db);
  const before = (id: string) => (previous ? roomTick(previous, id) : undefined);
  const { seqEnd, arrivals } = await lineUp(db, (id) => before(id)?.lineEnd ?? 0);
  if (real) await takePaidLogs(db);

  // One tick serves every room: O(rooms + what is due + admitted), each room by its own indexes.
  const parts = new Map<string, RoomStepped>();
  for (const id of ids) {
    const departed = abandoned.filter((left) => left.room === id).map((left) => left.line);
    parts.set(
      id,
      await roomStep(db, now, options, id, before(id), departed, arrivals.get(id) ?? 0),
    );
  }
  const main = parts.get(DEFAULT_ROOM)!;
  const rooms: Record<string, RoomPart> = {};
  for (const [id, part] of parts) if (id !== DEFAULT_ROOM) rooms[id] = part.part;
  const tick: TickRow = {
    no: (previous?.no ?? 0) + 1,
    at: now,
    real,
    seqEnd,
    nextAbandonAt: await nextAbandonAt(db, now, config),
    ...main.part,
    rooms,
  };
  await publishStep(db, tick);
  // As the embedded engine reports it: the sums, and each room's figures when there are rooms of concerts.
  const totals = { admitted: 0, waiting: 0, active: 0 };
  const figures: Record<string, { admitted: number; waiting: number; active: number }> = {};
  for (const [id, { part }] of parts) {
    figures[id] = { admitted: part.admitted, waiting: part.waiting, active: part.active };
    totals.admitted += part.admitted;
    totals.waiting += part.waiting;
    totals.active += part.active;
  }
  const report: TickReport = parts.size > 1 ? { ...totals, rooms: figures } : totals;
  return { report, tick, outcome: main.outcome };
}

interface RoomStepped {
  readonly part: RoomPart;
  readonly outcome: TickOutcome | undefined;
}

/**
 * One room's part of a step, after what was due expired and the arrivals
 * lined up: a scheduler tick decides with the room's own view (`decideTick`:
 * its waiting, code holders, active tokens, its concert's stock, its
 * opening), and each change is applied to that room's rows only (sold out
 * ends its own line; admission picks its lines and admits them by key).
 */
async function roomStep(
  db: Queryable,
  now: number,
  options: StepOptions,
  roomId: string,
  previous: TickRow | undefined,
  abandoned: readonly number[],
  arrivals: number,
): Promise<RoomStepped> {
  const { config, lifecycles, real } = options;
  const departed = [...abandoned];
  const previousEnd = previous?.lineEnd ?? 0;
  let waiting = (previous?.waiting ?? 0) - abandoned.length + arrivals;
  const lineEnd = previousEnd + arrivals;

  let active = await countActive(db, now, roomId);
  const read = await readRoom(db, config, roomId);
  let { room } = read;
  let cursor = read.drawCursor;
  let admitted = 0;
  let outcome: TickOutcome | undefined;
  if (real) {
    const view = {
      room,
      waiting,
      priorityWaiting: await countPriority(db, roomId),
      active,
      stock: await readStock(db, now, roomId),
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
    waiting -= admitted;
    active += admitted;
  }
  return {
    part: {
      lineEnd,
      departed,
      admitted,
      hadWaiting: outcome?.observed ?? false,
      waiting,
      active,
      room,
    },
    outcome,
  };
}
