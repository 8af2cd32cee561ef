import type { EngineConfig } from '@usher/engine';
import {
  AdmissionRate,
  DEFAULT_ROOM,
  drawnOrder,
  initialRoom,
  WaitingLine,
  type DrawnOrder,
  type RoomState,
} from '@usher/engine/rules';
import { publishedRoom } from './room.js';

/** One published keeper step, as stored in `queue_ticks`. */
export interface TickRow {
  readonly no: number;
  readonly at: number;
  readonly real: boolean;
  readonly lineEnd: number;
  readonly seqEnd: number;
  readonly departed: readonly number[];
  readonly admitted: number;
  /** People waited and the room admitted (not paused, open): what the admission rate learns from. */
  readonly hadWaiting: boolean;
  readonly waiting: number;
  readonly active: number;
  readonly nextAbandonAt: number;
  /** The room as the step left it. */
  readonly room: RoomState;
  /** Each room of a concert's part of the step (migration 7), by room id; the fields above are the default room's. */
  readonly rooms?: Readonly<Record<string, RoomPart>> | undefined;
}

/** A room's part of a published step: its line's end, the lines that left it, its counts and its state. */
export interface RoomPart {
  readonly lineEnd: number;
  readonly departed: readonly number[];
  readonly admitted: number;
  readonly hadWaiting: boolean;
  readonly waiting: number;
  readonly active: number;
  readonly room: RoomState;
}

/** The step as one room sees it: the default room's is the row; a room of a concert's, its part over the row (`undefined` when the step has none for it). */
export function roomTick(row: TickRow, roomId: string): TickRow | undefined {
  if (roomId === DEFAULT_ROOM) return row;
  const part = row.rooms?.[roomId];
  return part === undefined ? undefined : { ...row, ...part, rooms: undefined };
}

const present = () => true as const;

export const TICK_COLUMNS =
  'no, at, real, line_end, seq_end, departed, admitted, had_waiting, waiting, active, next_abandon_at, room, rooms';

export function tickRow(row: Record<string, unknown>, config: EngineConfig): TickRow {
  return {
    no: Number(row['no']),
    at: Number(row['at']),
    real: row['real'] === true,
    lineEnd: Number(row['line_end']),
    seqEnd: Number(row['seq_end']),
    departed: ((row['departed'] as unknown[] | null) ?? []).map(Number),
    admitted: Number(row['admitted']),
    hadWaiting: row['had_waiting'] === true,
    waiting: Number(row['waiting']),
    active: Number(row['active']),
    nextAbandonAt: Number(row['next_abandon_at']),
    room: publishedRoom(row['room'], config),
    rooms: roomParts(row['rooms'], config),
  };
}

function roomParts(json: unknown, config: EngineConfig): Record<string, RoomPart> | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const parts: Record<string, RoomPart> = {};
  for (const [id, value] of Object.entries(json as Record<string, Record<string, unknown>>)) {
    parts[id] = {
      lineEnd: Number(value['lineEnd']),
      departed: ((value['departed'] as unknown[] | null) ?? []).map(Number),
      admitted: Number(value['admitted']),
      hadWaiting: value['hadWaiting'] === true,
      waiting: Number(value['waiting']),
      active: Number(value['active']),
      room: publishedRoom(value['room'], config),
    };
  }
  return parts;
}

/**
 * One engine's picture of the waiting line, as of the last keeper step it
 * applied: who is in line by line number (a `WaitingLine`, the embedded
 * engine's own line), the
 * admission rate, and when the keeper last ran. Only keeper steps move
 * tokens out of `waiting` or give them a line, and each publishes a
 * `queue_ticks` row, so applying those rows in order keeps this exact:
 * a lined token's position is `line.rank(line)`, with no query.
 *
 * A token that arrived since the last step has no line yet. Every number
 * up to the step's `seqEnd` is settled, so the tokens ahead of it are the
 * line plus the numbers between `seqEnd` and its own: its position is
 * `line.size + (seq − seqEnd)`, less those of them known to be abandoned.
 * Numbers still in flight count as ahead (they are: they were drawn first),
 * and a number burnt by a rolled-back issue counts until the next step, so
 * such a position is exact or one too high for a moment, never too low,
 * and never goes up.
 */
export class QueueMirror {
  readonly line = new WaitingLine<true>();
  readonly rate: AdmissionRate;
  /** Number of the last step applied. */
  applied = 0;
  /** The last applied step's `seq_end`: every token drawn up to it has a line or is gone. */
  seqEnd = 0;
  /** When the last scheduler tick (not a catch-up) ran; `-Infinity` for never. */
  lastRealTickAt = -Infinity;
  /** No waiting token can be abandoned before this (as of the last step). */
  nextAbandonAt = Infinity;
  /** The room as of the last step (a room change publishes a step of its own). */
  room: RoomState;
  /** The room's draw as a permutation: {@link line} counts slots (places in the drawn order), not line numbers. */
  #drawn: DrawnOrder | undefined;

  constructor(config: EngineConfig, room: RoomState = initialRoom(config)) {
    this.line.reset([], 0, present);
    this.room = room;
    this.rate = new AdmissionRate({
      admitPerTick: room.admitPerTick,
      tickMs: config.queueTickMs,
      maxActive: room.maxActive,
      activeTtlMs: config.tokenActiveTtlMs,
    });
  }

  /** Starts from a snapshot: the last step and the lines in line then. */
  load(last: TickRow | undefined, lines: readonly number[]): void {
    const draw = last?.room.draw;
    this.#drawn = draw ? drawnOrder(draw) : undefined;
    const slots = this.#drawn
      ? Float64Array.from(lines, (line) => this.#drawn!.slotOf(line)).sort()
      : lines;
    this.line.reset(slots, last?.lineEnd ?? 0, present);
    this.applied = last?.no ?? 0;
    this.seqEnd = last?.seqEnd ?? 0;
    if (last) this.#note(last);
  }

  /** 1-based rank of `line` in line (in the drawn order, if any), or 0 when it is not in line. */
  rank(line: number): number {
    return this.line.rank(this.#slotOf(line));
  }

  #slotOf(line: number): number {
    return this.#drawn ? this.#drawn.slotOf(line) : line;
  }

  /** Applies the next step; `false` when `row` is not the next one (the caller reloads). */
  apply(row: TickRow): boolean {
    if (row.no <= this.applied) return true;
    if (row.no !== this.applied + 1) return false;
    this.line.extendTo(row.lineEnd, true);
    const draw = row.room.draw;
    if (draw && draw.seed !== this.#drawn?.draw.seed) this.#redraw(drawnOrder(draw));
    for (const line of row.departed) this.line.remove(this.#slotOf(line));
    if (row.real && row.hadWaiting) this.rate.observe(row.admitted);
    this.applied = row.no;
    this.seqEnd = row.seqEnd;
    this.#note(row);
    return true;
  }

  /** A step that has no part for this room (it was not there yet): only the step's number and times move. */
  skip(row: TickRow): void {
    if (row.no <= this.applied) return;
    this.applied = row.no;
    this.seqEnd = row.seqEnd;
    if (row.real) this.lastRealTickAt = Math.max(this.lastRealTickAt, row.at);
    this.nextAbandonAt = row.nextAbandonAt;
  }

  /** Starts a room first seen in step `row`: nothing of it was in line before (a room's first step publishes it). */
  startAt(row: TickRow): void {
    this.applied = row.no - 1;
    this.seqEnd = row.seqEnd;
  }

  /**
   * Whether waiting tokens may have been abandoned since the last step and
   * no scheduler tick has run for a tick period (the keeper is away, or
   * time is driven by hand): positions then wait for a catch-up step.
   */
  needsCatchUp(now: number, tickMs: number): boolean {
    return this.line.size > 0 && now >= this.nextAbandonAt && now >= this.lastRealTickAt + tickMs;
  }

  /**
   * The opening drew a new order: who is in line moves from the old slots to
   * the new ones. The two draws together cover `from..to`: the new one covers
   * every line still waiting from the old one.
   */
  #redraw(next: DrawnOrder): void {
    const previous = this.#drawn;
    const from = Math.min(next.draw.from, previous?.draw.from ?? Infinity);
    const to = Math.max(next.draw.to, previous?.draw.to ?? -Infinity);
    this.line.permute(from, to, (slot) => next.slotOf(previous ? previous.placeAt(slot) : slot));
    this.#drawn = next;
  }

  #note(row: TickRow): void {
    if (row.real) this.lastRealTickAt = Math.max(this.lastRealTickAt, row.at);
    this.nextAbandonAt = row.nextAbandonAt;
    if (
      row.room.admitPerTick !== this.room.admitPerTick ||
      row.room.maxActive !== this.room.maxActive
    )
      this.rate.retune(row.room);
    this.room = row.room;
  }
}
