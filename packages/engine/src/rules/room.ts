/**
 * Room rules (SPEC §9): the operator's live settings, the fair start and
 * sold-out. Pure: state + command + time in, changes + answer out, or an
 * `EngineError`. Randomness comes in as a function, like ids and time.
 */
import { configBounds, type EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import type { Draw } from '../queue/DrawnOrder.js';
import type { Room, RoomSettings } from '../types.js';
import { requireInteger } from '../validate.js';
import { unchanged, type Decision } from './changes.js';

/**
 * The room as both engines keep it (the embedded engine in its journal, the
 * PostgreSQL engine in the `room` row). Times are epoch ms.
 */
export interface RoomState {
  /** Nobody is admitted while true. */
  readonly paused: boolean;
  readonly admitPerTick: number;
  readonly maxActive: number;
  /** When the sale opens (or opened); `null` for none. Always set while {@link pendingOpening}. */
  readonly opensAt: number | null;
  readonly shuffle: boolean;
  /**
   * An opening is still to come: nobody is admitted and positions are
   * `null` until the first tick at or after `opensAt` draws the places.
   */
  readonly pendingOpening: boolean;
  /** Nothing is left to sell, as the last tick found (see {@link isSoldOut}). */
  readonly soldOut: boolean;
  /**
   * The last opening's draw, which orders the places it covers (see
   * `DrawnOrder`); `null` before any (or with `shuffle: false`). Kept with the
   * room, so the order is durable without rewriting a single token.
   */
  readonly draw: Draw | null;
}

/** What the sold-out check reads: counters every engine keeps, never a scan of the seats. */
export interface Stock {
  /** Seats of every schedule. */
  readonly totalSeats: number;
  /** Seats held now (live holds); only whether there is any matters, so an engine may say 1 for "at least one". */
  readonly heldSeats: number;
  /** Seats paid (final: a paid seat never comes back). */
  readonly paidSeats: number;
}

/**
 * What an opening draws: the places from the first in line (`from`) to the
 * last one who joined before `opensAt` (`to`), in the engine's numbering of
 * its line. Everyone waiting in between is drawn; who joined after stands
 * behind, in order.
 */
export interface OpeningRange {
  readonly from: number;
  readonly to: number;
}

/** The room a fresh engine starts with: the configured admission, open, not paused, shuffling at an opening. */
export function initialRoom(config: EngineConfig): RoomState {
  return {
    paused: false,
    admitPerTick: config.queueAdmitPerTick,
    maxActive: config.queueMaxActive,
    opensAt: null,
    shuffle: true,
    pendingOpening: false,
    soldOut: false,
    draw: null,
  };
}

/** Whether a tick may admit: not paused, and no opening still to come. */
export function isAdmitting(room: RoomState): boolean {
  return !room.paused && !room.pendingOpening;
}

/** Whether this tick must perform the opening (draw the places of everyone who joined before it). */
export function isOpeningDue(room: RoomState, now: number): boolean {
  return room.pendingOpening && room.opensAt !== null && now >= room.opensAt;
}

/** Nothing left to sell: seats exist, none is held, and every one is paid. */
export function isSoldOut(stock: Stock): boolean {
  return stock.totalSeats > 0 && stock.heldSeats === 0 && stock.paidSeats >= stock.totalSeats;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The settings as the API shows them. */
export function roomSettings(room: RoomState): RoomSettings {
  return {
    paused: room.paused,
    admitPerTick: room.admitPerTick,
    maxActive: room.maxActive,
    opensAt: room.opensAt === null ? null : iso(room.opensAt),
    shuffle: room.shuffle,
  };
}

/** The room with its counts, as the API shows it. */
export function roomView(
  room: RoomState,
  counts: { readonly waiting: number; readonly active: number; readonly admittedTotal: number },
): Room {
  return {
    ...roomSettings(room),
    waiting: counts.waiting,
    active: counts.active,
    admittedTotal: counts.admittedTotal,
    soldOut: room.soldOut,
  };
}

const SETTINGS: ReadonlySet<string> = new Set<keyof RoomSettings>([
  'paused',
  'admitPerTick',
  'maxActive',
  'opensAt',
  'shuffle',
]);

/** An instant: date, time and a time zone (`Z` or an offset), as ISO 8601 / RFC 3339 write it. */
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

function requireBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean')
    throw new EngineError('VALIDATION_FAILED', `${field} must be true or false`);
  return value;
}

function requireInstant(value: unknown): number | null {
  if (value === null) return null;
  const fields = typeof value === 'string' && value.length <= 40 ? INSTANT.exec(value) : null;
  const [year, month, day, hour, minute, second = '0', offsetHours = '0', offsetMinutes = '0'] =
    fields?.slice(1).map((field) => field ?? undefined) ?? [];
  // Date.parse rolls 30 February over to March: the fields themselves must exist. (setUTCFullYear, not
  // Date.UTC: that reads years 0–99 as 1900–1999.)
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  const exists =
    fields !== null &&
    date.getUTCFullYear() === Number(year) &&
    date.getUTCMonth() === Number(month) - 1 &&
    date.getUTCDate() === Number(day) &&
    Number(hour) < 24 &&
    Number(minute) < 60 &&
    Number(second) < 60 &&
    Number(offsetHours) < 24 &&
    Number(offsetMinutes) < 60;
  const at = exists ? Date.parse(value as string) : NaN;
  if (!Number.isSafeInteger(at))
    throw new EngineError(
      'VALIDATION_FAILED',
      'opensAt must be an ISO 8601 instant with a time zone (e.g. 2027-05-01T10:00:00Z), or null',
    );
  return at;
}

/**
 * An operator's change of the room. Every field is checked before anything
 * changes: unknown fields, wrong types, `admitPerTick` and `maxActive`
 * outside `configBounds.queueAdmitPerTick` / `queueMaxActive`, or an
 * `opensAt` that is not an instant with a time zone are `VALIDATION_FAILED`.
 *
 * `opensAt`:
 * - in the future: the room waits for its opening from now on: positions are
 *   `null`, nobody is admitted (tokens already active stay), and the first
 *   tick at or after it draws the places of everyone who joined before it;
 * - in the past or now: recorded; a room still waiting for its opening opens
 *   at the next tick (who joined before this instant is drawn, who joined
 *   after queues behind), an open room stays as it is (no retroactive draw);
 * - `null`: no opening; a room still waiting for one opens at the next tick
 *   (`opensAt` becomes now, so that tokens still say when).
 */
export function decideUpdateRoom(
  room: RoomState,
  patch: unknown,
  now: number,
): Decision<{ before: RoomState; after: RoomState }> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new EngineError('VALIDATION_FAILED', 'the room change must be an object of settings');
  }
  const fields = patch as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!SETTINGS.has(key))
      throw new EngineError(
        'VALIDATION_FAILED',
        `"${key}" is not a room setting (${[...SETTINGS].join(', ')})`,
      );
  }
  const given = (key: keyof RoomSettings) => fields[key] !== undefined;
  let next: RoomState = { ...room };
  if (given('paused')) next = { ...next, paused: requireBoolean(fields['paused'], 'paused') };
  if (given('shuffle')) next = { ...next, shuffle: requireBoolean(fields['shuffle'], 'shuffle') };
  if (given('admitPerTick')) {
    const { min, max } = configBounds.queueAdmitPerTick;
    next = {
      ...next,
      admitPerTick: requireInteger(fields['admitPerTick'], 'admitPerTick', min, max),
    };
  }
  if (given('maxActive')) {
    const { min, max } = configBounds.queueMaxActive;
    next = { ...next, maxActive: requireInteger(fields['maxActive'], 'maxActive', min, max) };
  }
  if (given('opensAt')) {
    const at = requireInstant(fields['opensAt']);
    if (at === null) next = { ...next, opensAt: room.pendingOpening ? now : null };
    else next = { ...next, opensAt: at, pendingOpening: at > now || room.pendingOpening };
  }
  const changed = (Object.keys(next) as (keyof RoomState)[]).some((key) => next[key] !== room[key]);
  // The draw stays as it is: only an opening draws.
  if (!changed) return unchanged({ before: room, after: room });
  return { changes: [{ type: 'roomChanged', room: next }], answer: { before: room, after: next } };
}

/**
 * The room of every concert without one of its own (SPEC §12): tokens issued
 * without a `concertId` join it, and `/admin/room` is it.
 */
export const DEFAULT_ROOM = 'default';

/** A concert's own room, as the catalog gives it (`catalog.concerts[].room`): any of these, the rest from the defaults. */
export interface RoomInput {
  readonly opensAt?: string | null;
  readonly maxActive?: number;
  readonly admitPerTick?: number;
  readonly shuffle?: boolean;
}

const ROOM_INPUT: ReadonlySet<string> = new Set([
  'opensAt',
  'maxActive',
  'admitPerTick',
  'shuffle',
]);

/** Settings only checked, for a catalog: no engine's configuration is needed to refuse a malformed room. */
const CHECKED: RoomState = {
  paused: false,
  admitPerTick: configBounds.queueAdmitPerTick.min,
  maxActive: configBounds.queueMaxActive.min,
  opensAt: null,
  shuffle: true,
  pendingOpening: false,
  soldOut: false,
  draw: null,
};

/**
 * A concert's `room` from a catalog, checked: an object of any of `opensAt`,
 * `maxActive`, `admitPerTick`, `shuffle`, each as `PATCH /admin/room` takes it
 * (`VALIDATION_FAILED` otherwise). Answers the fields given, in a fixed order.
 */
export function checkRoomInput(input: unknown, concertId: string): RoomInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new EngineError('VALIDATION_FAILED', `room of concert "${concertId}" must be an object`);
  const fields = input as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!ROOM_INPUT.has(key))
      throw new EngineError(
        'VALIDATION_FAILED',
        `"${key}" is not a setting of concert "${concertId}"'s room (${[...ROOM_INPUT].join(', ')})`,
      );
  }
  decideUpdateRoom(CHECKED, fields, 0);
  const out: { -readonly [K in keyof RoomInput]: RoomInput[K] } = {};
  if (fields['opensAt'] !== undefined) out.opensAt = fields['opensAt'] as string | null;
  if (fields['maxActive'] !== undefined) out.maxActive = fields['maxActive'] as number;
  if (fields['admitPerTick'] !== undefined) out.admitPerTick = fields['admitPerTick'] as number;
  if (fields['shuffle'] !== undefined) out.shuffle = fields['shuffle'] as boolean;
  return out;
}

/**
 * A concert's room as it starts, when its concert is added at `now`: the
 * configuration's room with the catalog's settings, as an operator's change
 * of them would leave it (an `opensAt` to come waits for its opening).
 */
export function openRoom(config: EngineConfig, input: RoomInput, now: number): RoomState {
  return decideUpdateRoom(initialRoom(config), input, now).answer.after;
}

/** The room a concert's routes admit to: its own (named by the concert's id), or {@link DEFAULT_ROOM}. */
export function roomOfConcert(concert: { readonly id: string; readonly room?: unknown }): string {
  return concert.room === undefined ? DEFAULT_ROOM : concert.id;
}

/** The room a token was issued for. */
export function roomOfToken(token: { readonly room?: string | undefined }): string {
  return token.room ?? DEFAULT_ROOM;
}

/** A room id argument (`/admin/rooms/:roomId`): `NOT_FOUND` unless `known` (an id of no room is no room). */
export function requireRoomId<T>(roomId: unknown, known: (id: string) => T | undefined): T {
  const room = typeof roomId === 'string' ? known(roomId) : undefined;
  if (room === undefined)
    throw new EngineError('ROOM_NOT_FOUND', `no room "${String(roomId).slice(0, 100)}"`);
  return room;
}

/** A concert as the API shows it: its own room by its id (SPEC §12), not the room's settings. */
export function concertView<C extends { readonly id: string; readonly room?: unknown }>(
  record: C,
): Omit<C, 'room'> & { readonly room?: string } {
  const { room, ...concert } = record;
  return room === undefined ? concert : { ...concert, room: record.id };
}
