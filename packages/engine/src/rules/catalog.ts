/**
 * Catalog rules: what a catalog must look like, and what loading one adds.
 * Pure: the known entries + the input in, changes + answer out, or an `EngineError`.
 */
import { EngineError } from '../errors.js';
import type { ConcertRecord, PriceTier, ScheduleRecord } from '../persistence/records.js';
import type { CatalogInput, CatalogLoadResult, ScheduleInput } from '../types.js';
import { requireId, requireInteger } from '../validate.js';
import type { Decision } from './changes.js';
import type { Lifecycles } from '../machines/lifecycles.js';
import { activeUser, type TokenFacts } from './queue.js';
import { checkRoomInput, DEFAULT_ROOM } from './room.js';

/** Most seats one schedule may have. */
export const MAX_SEATS_PER_SCHEDULE = 1_000_000;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The entries a catalog load is checked against. */
export interface KnownCatalog {
  concert(id: string): ConcertRecord | undefined;
  schedule(id: string): ScheduleRecord | undefined;
}

/**
 * Validates a whole catalog, then adds what is new. An entry identical to an
 * existing one is skipped (loading the same catalog twice is harmless); one
 * that differs is refused, and then nothing is added.
 */
export function decideLoadCatalog(
  known: KnownCatalog,
  input: CatalogInput,
): Decision<CatalogLoadResult> {
  if (
    typeof input !== 'object' ||
    input === null ||
    !Array.isArray(input.concerts) ||
    !Array.isArray(input.schedules)
  ) {
    throw new EngineError(
      'VALIDATION_FAILED',
      'a catalog has a concerts array and a schedules array',
    );
  }
  const concerts = new Map<string, ConcertRecord>();
  for (const concert of input.concerts) {
    const record = toConcertRecord(concert);
    if (concerts.has(record.id))
      throw new EngineError('VALIDATION_FAILED', `concert "${record.id}" appears twice`);
    concerts.set(record.id, record);
  }
  const schedules = new Map<string, ScheduleRecord>();
  for (const schedule of input.schedules) {
    const record = toScheduleRecord(schedule);
    if (schedules.has(record.id))
      throw new EngineError('VALIDATION_FAILED', `schedule "${record.id}" appears twice`);
    if (!concerts.has(record.concertId) && !known.concert(record.concertId)) {
      throw new EngineError(
        'VALIDATION_FAILED',
        `schedule "${record.id}" names unknown concert "${record.concertId}"`,
      );
    }
    schedules.set(record.id, record);
  }
  const newConcerts = [...concerts.values()].filter(
    (record) => !isKnown(known.concert(record.id), record, 'concert'),
  );
  const newSchedules = [...schedules.values()].filter(
    (record) => !isKnown(known.schedule(record.id), record, 'schedule'),
  );
  const answer = { concertsAdded: newConcerts.length, schedulesAdded: newSchedules.length };
  if (newConcerts.length === 0 && newSchedules.length === 0) return { changes: [], answer };
  return {
    changes: [{ type: 'catalogAdded', concerts: newConcerts, schedules: newSchedules }],
    answer,
  };
}

/** Browsing needs an active token. */
export function checkListConcerts(view: TokenFacts, now: number, lifecycles: Lifecycles): void {
  activeUser(view, now, lifecycles);
}

/** A concert's dates: an active token and a known concert. */
export function checkListSchedules(
  view: TokenFacts & { readonly concert: unknown },
  concertId: unknown,
  now: number,
  lifecycles: Lifecycles,
): void {
  const id = requireId(concertId, 'concertId');
  activeUser(view, now, lifecycles);
  requireConcert(view.concert ?? undefined, id);
}

/** A date's seats: an active token and a known schedule. */
export function checkListSeats(
  view: TokenFacts & { readonly schedule: unknown },
  scheduleId: unknown,
  now: number,
  lifecycles: Lifecycles,
): void {
  const id = requireId(scheduleId, 'scheduleId');
  activeUser(view, now, lifecycles);
  if (view.schedule === undefined)
    throw new EngineError('SCHEDULE_NOT_FOUND', `no schedule "${id}"`);
}

/** `CONCERT_NOT_FOUND` for an unknown concert. */
export function requireConcert<C>(concert: C | undefined, concertId: string): C {
  if (concert === undefined)
    throw new EngineError('CONCERT_NOT_FOUND', `no concert "${concertId}"`);
  return concert;
}

/** The price of a seat in `1..totalSeats`, by binary search over the tiers. */
export function priceOf(prices: readonly PriceTier[], seatNo: number): number {
  let lo = 0;
  let hi = prices.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (prices[mid]!.to < seatNo) lo = mid + 1;
    else hi = mid;
  }
  return prices[lo]!.price;
}

/** The category (tier `name`) of a seat in `1..totalSeats`, if its tier has one. */
export function categoryOf(prices: readonly PriceTier[], seatNo: number): string | undefined {
  let lo = 0;
  let hi = prices.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (prices[mid]!.to < seatNo) lo = mid + 1;
    else hi = mid;
  }
  return prices[lo]!.name;
}

function isKnown<T>(existing: T | undefined, incoming: T, kind: string): boolean {
  if (existing === undefined) return false;
  if (JSON.stringify(existing) === JSON.stringify(incoming)) return true;
  throw new EngineError(
    'VALIDATION_FAILED',
    `${kind} "${(incoming as { id: string }).id}" already exists with other data`,
  );
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 200)
    throw new EngineError(
      'VALIDATION_FAILED',
      `${field} must be a string of at most 200 characters`,
    );
  return value;
}

function toConcertRecord(input: CatalogInput['concerts'][number]): ConcertRecord {
  const id = requireId(input?.id, 'concert id');
  const title = optionalText(input.title, `title of concert "${id}"`);
  if (!title) throw new EngineError('VALIDATION_FAILED', `concert "${id}" needs a title`);
  const artist = optionalText(input.artist, `artist of concert "${id}"`);
  const venue = optionalText(input.venue, `venue of concert "${id}"`);
  const room = input.room === undefined ? undefined : checkRoomInput(input.room, id);
  if (room !== undefined && id === DEFAULT_ROOM)
    throw new EngineError(
      'VALIDATION_FAILED',
      `concert "${DEFAULT_ROOM}" cannot have a room of its own: its id names the default room`,
    );
  return {
    id,
    title,
    ...(artist === undefined ? {} : { artist }),
    ...(venue === undefined ? {} : { venue }),
    ...(room === undefined ? {} : { room }),
  };
}

function toScheduleRecord(input: ScheduleInput): ScheduleRecord {
  const id = requireId(input?.id, 'schedule id');
  const concertId = requireId(input.concertId, `concertId of schedule "${id}"`);
  if (
    typeof input.startsAt !== 'string' ||
    !ISO_8601.test(input.startsAt) ||
    Number.isNaN(Date.parse(input.startsAt))
  ) {
    throw new EngineError(
      'VALIDATION_FAILED',
      `startsAt of schedule "${id}" must be an ISO 8601 date-time`,
    );
  }
  const totalSeats = requireInteger(
    input.totalSeats,
    `totalSeats of schedule "${id}"`,
    1,
    MAX_SEATS_PER_SCHEDULE,
  );
  const seatsPerRow =
    input.seatsPerRow === undefined
      ? undefined
      : requireInteger(input.seatsPerRow, `seatsPerRow of schedule "${id}"`, 1, totalSeats);
  return {
    id,
    concertId,
    startsAt: input.startsAt,
    totalSeats,
    prices: toPriceTiers(input, id, totalSeats),
    ...(seatsPerRow === undefined ? {} : { seatsPerRow }),
  };
}

/** Longest category (price tier `name`). */
export const MAX_CATEGORY_LENGTH = 50;
const CATEGORY = /^[^\u0000-\u001f\u007f]+$/;

/** A tier name or a requested category: 1 to 50 printable characters. */
export function requireCategory(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_CATEGORY_LENGTH ||
    !CATEGORY.test(value)
  )
    throw new EngineError(
      'VALIDATION_FAILED',
      `${field} must be 1 to ${MAX_CATEGORY_LENGTH} printable characters`,
    );
  return value;
}

function toPriceTiers(input: ScheduleInput, id: string, totalSeats: number): PriceTier[] {
  if ((input.price === undefined) === (input.prices === undefined)) {
    throw new EngineError('VALIDATION_FAILED', `schedule "${id}" needs either price or prices`);
  }
  if (input.price !== undefined) {
    return [
      {
        from: 1,
        to: totalSeats,
        price: requireInteger(input.price, `price of schedule "${id}"`, 1),
      },
    ];
  }
  if (!Array.isArray(input.prices) || input.prices.length === 0) {
    throw new EngineError(
      'VALIDATION_FAILED',
      `prices of schedule "${id}" must be a non-empty array`,
    );
  }
  const tiers: PriceTier[] = [];
  let next = 1;
  for (const tier of input.prices) {
    const from = requireInteger(tier?.from, `prices[].from of schedule "${id}"`, 1, totalSeats);
    const to = requireInteger(tier.to, `prices[].to of schedule "${id}"`, from, totalSeats);
    const price = requireInteger(tier.price, `prices[].price of schedule "${id}"`, 1);
    const name =
      tier.name === undefined
        ? undefined
        : requireCategory(tier.name, `prices[].name of schedule "${id}"`);
    if (from !== next)
      throw new EngineError(
        'VALIDATION_FAILED',
        `prices of schedule "${id}" must cover seats in order from ${next}`,
      );
    tiers.push(name === undefined ? { from, to, price } : { from, to, price, name });
    next = to + 1;
  }
  if (next !== totalSeats + 1)
    throw new EngineError(
      'VALIDATION_FAILED',
      `prices of schedule "${id}" must cover seats up to ${totalSeats}`,
    );
  return tiers;
}
