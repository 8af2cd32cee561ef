import type { EngineConfig } from '@usher/engine';
import { initialRoom, type RoomState } from '@usher/engine/rules';
import type { Queryable } from './database.js';

/** The `room` row (migration 005) as the rules' `RoomState`, with its two counters. */
export interface RoomRow {
  readonly room: RoomState;
  readonly admittedTotal: number;
  readonly paidSeats: number;
}

export const ROOM_COLUMNS = 'paused, admit_per_tick, max_active, opens_at, shuffle, pending_opening, sold_out, admitted_total, paid_seats';

export function roomRow(row: Record<string, unknown>): RoomRow {
  const opensAt = row['opens_at'];
  return {
    room: {
      paused: row['paused'] === true,
      admitPerTick: Number(row['admit_per_tick']),
      maxActive: Number(row['max_active']),
      opensAt: opensAt === null || opensAt === undefined ? null : Number(opensAt),
      shuffle: row['shuffle'] === true,
      pendingOpening: row['pending_opening'] === true,
      soldOut: row['sold_out'] === true,
    },
    admittedTotal: Number(row['admitted_total'] ?? 0),
    paidSeats: Number(row['paid_seats'] ?? 0),
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
    [room.paused, room.admitPerTick, room.maxActive, room.opensAt, room.shuffle, room.pendingOpening],
  );
}

/** Reads the room (inside a step, under the step lock, it cannot change until the commit). */
export async function readRoom(db: Queryable, config: EngineConfig): Promise<RoomRow> {
  const { rows } = await db.query(`SELECT ${ROOM_COLUMNS} FROM room WHERE id = 1`);
  return rows[0] ? roomRow(rows[0]) : { room: initialRoom(config), admittedTotal: 0, paidSeats: 0 };
}

/** Writes the room's settings and state as the rules decided them (the counters move on their own). */
export async function writeRoom(db: Queryable, room: RoomState): Promise<void> {
  await db.query(
    `UPDATE room SET paused = $1, admit_per_tick = $2, max_active = $3, opens_at = $4, shuffle = $5, pending_opening = $6, sold_out = $7
      WHERE id = 1`,
    [room.paused, room.admitPerTick, room.maxActive, room.opensAt, room.shuffle, room.pendingOpening, room.soldOut],
  );
}
