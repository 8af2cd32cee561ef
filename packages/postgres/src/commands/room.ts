import type { EngineStats, Room, RoomChange, RoomSettings } from '@usher/engine';
import {
  DEFAULT_ROOM,
  decideCreateCodes,
  newPresaleCode,
  requireRoomId,
  roomView,
} from '@usher/engine/rules';
import type { CommandRunner } from '../CommandRunner.js';
import { onClient, query, type Queryable } from '../database.js';
import type { Keeper } from '../keeper/Keeper.js';
import { runRoomUpdate } from '../keeper/step.js';
import { ROOM_COLUMNS, roomIds, roomRow } from '../room.js';

/**
 * A room (SPEC §9, §12) as the database holds it: the settings and
 * `admittedTotal` from its row (`room_states`); `active` counted (an index
 * range of the room's live active tokens); `waiting` as of the last keeper
 * step plus the room's arrivals since (never a count of the line).
 * `undefined` for no such room.
 */
export async function findRoomView(
  db: Queryable,
  now: number,
  roomId: string,
): Promise<Room | undefined> {
  const { rows } = await query<Record<string, unknown>>(
    db,
    `SELECT ${ROOM_COLUMNS},
            (SELECT count(*) FROM tokens t WHERE t.room = $2 AND usher_token_active(t, $1)) AS active,
            coalesce((SELECT CASE WHEN $2 = 'default' THEN waiting ELSE (rooms->$2->>'waiting')::bigint END
                        FROM queue_ticks ORDER BY no DESC LIMIT 1), 0)
              + (SELECT count(*) FROM tokens t WHERE usher_arrival(t) AND t.room = $2) AS waiting
       FROM room_states WHERE id = $2`,
    [now, roomId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { room, admittedTotal } = roomRow(row);
  return roomView(room, {
    waiting: Number(row['waiting']),
    active: Number(row['active']),
    admittedTotal,
  });
}

/** The default room (see {@link findRoomView}). */
export async function readRoomView(db: Queryable, now: number): Promise<Room> {
  const room = await findRoomView(db, now, DEFAULT_ROOM);
  if (!room) throw new Error('the room row is missing (the engine inserts it at start)');
  return room;
}

/** A room by id, with it (`ROOM_NOT_FOUND` for none). */
export async function roomById(db: Queryable, now: number, roomId: unknown): Promise<Room> {
  const id = requireRoomId(roomId, (given) => given);
  const room = await findRoomView(db, now, id);
  return { id, ...requireRoomId(roomId, () => room) };
}

/** Every room: the default one first, then the rooms of concerts by id (SPEC §12). */
export async function listRooms(db: Queryable, now: number): Promise<Room[]> {
  const list: Room[] = [];
  for (const id of await roomIds(db)) list.push(await roomById(db, now, id));
  return list;
}

/**
 * Changes a room's settings (see `UsherEngine.updateRoom`), in one
 * transaction under the step lock, and publishes the change as a step: every
 * engine's mirror has it after the next notification; the keeper's next
 * tick admits by it.
 */
export function updateRoom(
  runner: CommandRunner,
  patch: Partial<RoomSettings>,
  roomId?: string,
): Promise<RoomChange> {
  return runner.run(async (now) => {
    const id = roomId ?? DEFAULT_ROOM;
    // An unknown room is no room (ROOM_NOT_FOUND) before the patch is looked at.
    if (id !== DEFAULT_ROOM) await roomById(runner.pool, now, id);
    const options = { config: runner.config, lifecycles: runner.lifecycles };
    const started = performance.now();
    const { before, after } = await onClient(runner.pool, (client) =>
      runRoomUpdate(client, now, patch, options, id),
    );
    if (before !== after) {
      runner.observers.tell((observer) =>
        observer.commit?.({ command: 'updateRoom', durationMs: performance.now() - started }),
      );
      await runner.line.refresh();
    }
    const counts = (await findRoomView(runner.pool, now, id))!;
    const named = roomId === undefined ? {} : { id };
    return {
      before: { ...named, ...roomView(before, counts) },
      room: { ...named, ...roomView(after, counts) },
    };
  });
}

/** The counts of `UsherEngine.stats`, each an index read; the rest from this instance. */
export function stats(
  runner: CommandRunner,
  keeper: Keeper,
  watchedTokens: number,
): Promise<EngineStats> {
  return runner.run(async (now) => {
    const { rows } = await query<Record<string, string>>(
      runner.db,
      `SELECT (SELECT count(*) FROM concerts) AS concerts,
              (SELECT count(*) FROM schedules) AS schedules,
              (SELECT count(*) FROM tokens t WHERE usher_waiter_present(t, $1, $2)) AS waiting,
              (SELECT count(*) FROM tokens t WHERE usher_token_active(t, $1)) AS active,
              (SELECT coalesce(sum(usher_seat_count(r)), 0) FROM reservations r WHERE usher_hold_live(r, $1)) AS held,
              (SELECT coalesce(sum(usher_seat_count(r)), 0) FROM reservations r WHERE status = 'paid') AS paid,
              (SELECT count(*) FROM reservations) AS reservations,
              (SELECT count(*) FROM payments) AS payments,
              (SELECT count(*) FROM wallets) AS wallets,
              (SELECT count(*) FROM idempotency_keys) AS keys`,
      [now, runner.config.queueWaitingTtlMs],
    );
    const row = rows[0]!;
    return {
      concerts: Number(row['concerts']),
      schedules: Number(row['schedules']),
      waitingTokens: Number(row['waiting']),
      activeTokens: Number(row['active']),
      heldSeats: Number(row['held']),
      paidSeats: Number(row['paid']),
      reservations: Number(row['reservations']),
      payments: Number(row['payments']),
      wallets: Number(row['wallets']),
      idempotencyKeys: Number(row['keys']),
      admissionRatePerSecond: runner.line.rate.perSecond,
      watchedTokens,
      lastTickMs: keeper.lastTickMs,
      maxTickMs: keeper.maxTickMs,
    };
  });
}

/**
 * Creates presale codes (see `UsherEngine.createCodes`): the rule draws them,
 * their hashes are inserted in one statement, keyed by hash with their room
 * (`ROOM_NOT_FOUND` for no such room).
 */
export function createCodes(
  runner: CommandRunner,
  roomId: string,
  count: number,
): Promise<{ readonly codes: readonly string[] }> {
  return runner.run(async (now) => {
    const room = requireRoomId(roomId, (id) => id);
    if (room !== DEFAULT_ROOM) await roomById(runner.db, now, room);
    const started = performance.now();
    const { changes, answer } = decideCreateCodes(room, count, newPresaleCode);
    for (const change of changes) {
      if (change.type !== 'codesCreated')
        throw new Error(`createCodes cannot apply ${change.type}`);
      await query(
        runner.db,
        'INSERT INTO presale_codes (hash, room, created_at) SELECT unnest($1::text[]), $2, $3',
        [change.hashes, change.room, now],
      );
    }
    runner.observers.tell((observer) =>
      observer.commit?.({ command: 'createCodes', durationMs: performance.now() - started }),
    );
    return answer;
  });
}
