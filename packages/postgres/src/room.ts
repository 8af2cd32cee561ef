import type { EngineConfig } from '@usher/engine';
import {
  DEFAULT_ROOM,
  initialRoom,
  openRoom,
  type RoomInput,
  type RoomState,
} from '@usher/engine/rules';
import type { Queryable } from './database.js';

/** The `room` row (migration 005) as the rules' `RoomState`, with its two counters. */
export interface RoomRow {
  readonly room: RoomState;
  readonly admittedTotal: number;
  readonly paidSeats: number;
  /** The keeper's admissions in drawn order have passed every slot before this one (`draw.from` at first). */
  readonly drawCursor: number;
}

export const ROOM_COLUMNS =
  'paused, admit_per_tick, max_active, opens_at, shuffle, pending_opening, sold_out, admitted_total, paid_seats, draw_seed, draw_from, draw_to, draw_cursor';

export function roomRow(row: Record<string, unknown>): RoomRow {
  const opensAt = row['opens_at'];
  const seed = row['draw_seed'];
  const draw =
    typeof seed === 'string'
      ? { seed, from: Number(row['draw_from']), to: Number(row['draw_to']) }
      : null;
  return {
    room: {
      paused: row['paused'] === true,
      admitPerTick: Number(row['admit_per_tick']),
      maxActive: Number(row['max_active']),
      opensAt: opensAt === null || opensAt === undefined ? null : Number(opensAt),
      shuffle: row['shuffle'] === true,
      pendingOpening: row['pending_opening'] === true,
      soldOut: row['sold_out'] === true,
      draw,
    },
    admittedTotal: Number(row['admitted_total'] ?? 0),
    paidSeats: Number(row['paid_seats'] ?? 0),
    drawCursor: draw ? Math.max(draw.from, Number(row['draw_cursor'] ?? draw.from)) : 0,
  };
}

/** A room published in a `queue_ticks` row (`null` in steps from before migration 005: the configuration's room). */
export function publishedRoom(json: unknown, config: EngineConfig): RoomState {
  if (typeof json !== 'object' || json === null) return initialRoom(config);
  return { ...initialRoom(config), ...(json as Partial<RoomState>) };
}

/** Creates the room from the configuration unless it exists (the first engine to start on a database does). */
export async function ensureRoom(db: Queryable, config: EngineConfig): Promise<void> {
  const room = initialRoom(config);
  await db.query(
    `INSERT INTO room (id, paused, admit_per_tick, max_active, opens_at, shuffle, pending_opening)
     VALUES (1, $1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
    [
      room.paused,
      room.admitPerTick,
      room.maxActive,
      room.opensAt,
      room.shuffle,
      room.pendingOpening,
    ],
  );
}

/**
 * Creates the rooms of concerts that have none yet (migration 7), each as its
 * concert's catalog entry opens it at `now` (`openRoom`, the rule the
 * embedded engine opens it with); `ON CONFLICT DO NOTHING`, so any number of
 * engines may do it at once. Run after a catalog load and at start (which
 * mends a load cut between its commit and this). Answers how many it created.
 */
export async function ensureRooms(
  db: Queryable,
  config: EngineConfig,
  now: number,
): Promise<number> {
  const { rows } = await db.query<{ id: string; room: RoomInput }>(
    `SELECT c.id, c.record->'room' AS room FROM concerts c
      WHERE c.record ? 'room' AND NOT EXISTS (SELECT 1 FROM rooms r WHERE r.id = c.id)`,
  );
  let created = 0;
  for (const { id, room: input } of rows) {
    const room = openRoom(config, input, now);
    const { rowCount } = await db.query(
      `INSERT INTO rooms (id, paused, admit_per_tick, max_active, opens_at, shuffle, pending_opening)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      [
        id,
        room.paused,
        room.admitPerTick,
        room.maxActive,
        room.opensAt,
        room.shuffle,
        room.pendingOpening,
      ],
    );
    created += rowCount ?? 0;
  }
  return created;
}

/** The ids of every room, the default one first, then by id (a few rows: one per concert with a room). */
export async function roomIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM rooms ORDER BY id');
  return [DEFAULT_ROOM, ...rows.map((row) => row.id)];
}

/** Reads a room by id (inside a step, under the step lock, it cannot change until the commit); `undefined` for no such room. */
export async function findRoom(db: Queryable, roomId: string): Promise<RoomRow | undefined> {
  const { rows } = await db.query(`SELECT ${ROOM_COLUMNS} FROM room_states WHERE id = $1`, [
    roomId,
  ]);
  return rows[0] ? roomRow(rows[0]) : undefined;
}

/** Reads a room (the default room by default; the configuration's before its row exists). */
export async function readRoom(
  db: Queryable,
  config: EngineConfig,
  roomId: string = DEFAULT_ROOM,
): Promise<RoomRow> {
  return (
    (await findRoom(db, roomId)) ?? {
      room: initialRoom(config),
      admittedTotal: 0,
      paidSeats: 0,
      drawCursor: 0,
    }
  );
}

/** Writes a room's settings and state as the rules decided them (the counters move on their own); a new draw starts its cursor. */
export async function writeRoom(
  db: Queryable,
  room: RoomState,
  roomId: string = DEFAULT_ROOM,
): Promise<void> {
  const { draw } = room;
  const table = roomId === DEFAULT_ROOM ? 'room' : 'rooms';
  const { rowCount } = await db.query(
    `UPDATE ${table} SET paused = $1, admit_per_tick = $2, max_active = $3, opens_at = $4, shuffle = $5, pending_opening = $6, sold_out = $7,
                     draw_cursor = CASE WHEN draw_seed IS DISTINCT FROM $8::text THEN $9::bigint ELSE draw_cursor END,
                     draw_seed = $8, draw_from = $9, draw_to = $10
      WHERE id = ${roomId === DEFAULT_ROOM ? '1' : '$11'}`,
    [
      room.paused,
      room.admitPerTick,
      room.maxActive,
      room.opensAt,
      room.shuffle,
      room.pendingOpening,
      room.soldOut,
      draw?.seed ?? null,
      draw?.from ?? null,
      draw?.to ?? null,
      ...(roomId === DEFAULT_ROOM ? [] : [roomId]),
    ],
  );
  if (rowCount !== 1)
    throw new Error(`room "${roomId}": ${rowCount} rows written where 1 was decided`);
}

/** Moves a room's draw cursor (its admissions in drawn order passed every slot before it). */
export async function writeDrawCursor(
  db: Queryable,
  roomId: string,
  cursor: number,
): Promise<void> {
  const { rowCount } =
    roomId === DEFAULT_ROOM
      ? await db.query('UPDATE room SET draw_cursor = $1 WHERE id = 1', [cursor])
      : await db.query('UPDATE rooms SET draw_cursor = $1 WHERE id = $2', [cursor, roomId]);
  if (rowCount !== 1)
    throw new Error(`room "${roomId}": ${rowCount} rows written where 1 was decided`);
}
