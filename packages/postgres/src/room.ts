import type { EngineConfig } from '@usher/engine';
import { initialRoom, type RoomState } from '@usher/engine/rules';
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

/** Reads the room (inside a step, under the step lock, it cannot change until the commit). */
export async function readRoom(db: Queryable, config: EngineConfig): Promise<RoomRow> {
  const { rows } = await db.query(`SELECT ${ROOM_COLUMNS} FROM room WHERE id = 1`);
  return rows[0]
    ? roomRow(rows[0])
    : { room: initialRoom(config), admittedTotal: 0, paidSeats: 0, drawCursor: 0 };
}

/** Writes the room's settings and state as the rules decided them (the counters move on their own); a new draw starts its cursor. */
export async function writeRoom(db: Queryable, room: RoomState): Promise<void> {
  const { draw } = room;
  await db.query(
    `UPDATE room SET paused = $1, admit_per_tick = $2, max_active = $3, opens_at = $4, shuffle = $5, pending_opening = $6, sold_out = $7,
                     draw_cursor = CASE WHEN draw_seed IS DISTINCT FROM $8::text THEN $9::bigint ELSE draw_cursor END,
                     draw_seed = $8, draw_from = $9, draw_to = $10
      WHERE id = 1`,
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
    ],
  );
}
