import { EngineError } from '../errors.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { ConcertRecord, PriceTier, ScheduleRecord } from '../persistence/records.js';
import { SeatMap } from '../seats/SeatMap.js';
import type { CatalogInput, CatalogLoadResult, Concert, Schedule, ScheduleInput } from '../types.js';
import { requireId, requireInteger } from '../validate.js';

/** Most seats one schedule may have. */
export const MAX_SEATS_PER_SCHEDULE = 1_000_000;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A schedule with its seats and prices. */
export class ScheduleEntry {
  readonly record: ScheduleRecord;
  readonly seats: SeatMap;

  constructor(record: ScheduleRecord) {
    this.record = record;
    this.seats = new SeatMap(record.totalSeats);
  }

  /** Price of a seat in `1..totalSeats`, by binary search over the tiers. */
  priceOf = (seatNo: number): number => {
    const tiers = this.record.prices;
    let lo = 0;
    let hi = tiers.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tiers[mid]!.to < seatNo) lo = mid + 1;
      else hi = mid;
    }
    return tiers[lo]!.price;
  };
}

/** Concerts and their dates. Loaded once, then read-only but for seat states. */
export class Catalog {
  readonly #concerts = new Map<string, ConcertRecord>();
  readonly #schedules = new Map<string, ScheduleEntry>();
  readonly #byConcert = new Map<string, ScheduleEntry[]>();
  readonly #availability = new Map<string, { versions: number[]; list: readonly Schedule[] }>();
  #concertList: readonly Concert[] = [];

  get concertCount(): number {
    return this.#concerts.size;
  }

  get scheduleCount(): number {
    return this.#schedules.size;
  }

  concerts(): readonly Concert[] {
    return this.#concertList;
  }

  concert(id: string): ConcertRecord | undefined {
    return this.#concerts.get(id);
  }

  schedule(id: string): ScheduleEntry | undefined {
    return this.#schedules.get(id);
  }

  schedulesOf(concertId: string): readonly ScheduleEntry[] {
    return this.#byConcert.get(concertId) ?? [];
  }

  /**
   * The concert's dates that still have seats, by start time. The same frozen
   * list is returned until one of its dates changes (a seat, or a new date).
   */
  availableSchedules(concertId: string): readonly Schedule[] {
    const entries = this.schedulesOf(concertId);
    const cached = this.#availability.get(concertId);
    if (cached && cached.versions.length === entries.length && entries.every((entry, i) => entry.seats.version === cached.versions[i])) {
      return cached.list;
    }
    const list: Schedule[] = [];
    for (const { record, seats } of entries) {
      if (seats.availableCount === 0) continue;
      const { id, startsAt, totalSeats } = record;
      list.push(Object.freeze({ id, concertId, startsAt, totalSeats, availableSeats: seats.availableCount }));
    }
    this.#availability.set(concertId, { versions: entries.map((entry) => entry.seats.version), list: Object.freeze(list) });
    return list;
  }

  *allSchedules(): IterableIterator<ScheduleEntry> {
    yield* this.#schedules.values();
  }

  /**
   * Validates a whole catalog, then adds what is new. An entry identical to an
   * existing one is skipped (loading the same catalog twice is harmless); one
   * that differs is refused, and then nothing is added.
   */
  load(input: CatalogInput, tx: ChangeSet): CatalogLoadResult {
    if (typeof input !== 'object' || input === null || !Array.isArray(input.concerts) || !Array.isArray(input.schedules)) {
      throw new EngineError('VALIDATION_FAILED', 'a catalog has a concerts array and a schedules array');
    }
    const concerts = new Map<string, ConcertRecord>();
    for (const concert of input.concerts) {
      const record = toConcertRecord(concert);
      if (concerts.has(record.id)) throw new EngineError('VALIDATION_FAILED', `concert "${record.id}" appears twice`);
      concerts.set(record.id, record);
    }
    const schedules = new Map<string, ScheduleRecord>();
    for (const schedule of input.schedules) {
      const record = toScheduleRecord(schedule);
      if (schedules.has(record.id)) throw new EngineError('VALIDATION_FAILED', `schedule "${record.id}" appears twice`);
      if (!concerts.has(record.concertId) && !this.#concerts.has(record.concertId)) {
        throw new EngineError('VALIDATION_FAILED', `schedule "${record.id}" names unknown concert "${record.concertId}"`);
      }
      schedules.set(record.id, record);
    }
    const newConcerts = [...concerts.values()].filter((record) => !this.#isKnown(this.#concerts.get(record.id), record, 'concert'));
    const newSchedules = [...schedules.values()].filter((record) =>
      !this.#isKnown(this.#schedules.get(record.id)?.record, record, 'schedule'),
    );
    for (const record of newConcerts) {
      this.addConcert(record);
      tx.put('concerts', record.id, record);
    }
    for (const record of newSchedules) {
      this.addSchedule(record);
      tx.put('schedules', record.id, record);
    }
    return { concertsAdded: newConcerts.length, schedulesAdded: newSchedules.length };
  }

  addConcert(record: ConcertRecord): void {
    this.#concerts.set(record.id, record);
    this.#concertList = Object.freeze([...this.#concerts.values()].sort((a, b) => compare(a.id, b.id)));
  }

  addSchedule(record: ScheduleRecord): ScheduleEntry {
    const entry = new ScheduleEntry(record);
    this.#schedules.set(record.id, entry);
    const list = [...(this.#byConcert.get(record.concertId) ?? []), entry];
    list.sort((a, b) => compare(a.record.startsAt, b.record.startsAt) || compare(a.record.id, b.record.id));
    this.#byConcert.set(record.concertId, list);
    return entry;
  }

  #isKnown<T>(existing: T | undefined, incoming: T, kind: string): boolean {
    if (existing === undefined) return false;
    if (JSON.stringify(existing) === JSON.stringify(incoming)) return true;
    throw new EngineError('VALIDATION_FAILED', `${kind} "${(incoming as { id: string }).id}" already exists with other data`);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 200) throw new EngineError('VALIDATION_FAILED', `${field} must be a string of at most 200 characters`);
  return value;
}

function toConcertRecord(input: CatalogInput['concerts'][number]): ConcertRecord {
  const id = requireId(input?.id, 'concert id');
  const title = optionalText(input.title, `title of concert "${id}"`);
  if (!title) throw new EngineError('VALIDATION_FAILED', `concert "${id}" needs a title`);
  const artist = optionalText(input.artist, `artist of concert "${id}"`);
  const venue = optionalText(input.venue, `venue of concert "${id}"`);
  return { id, title, ...(artist === undefined ? {} : { artist }), ...(venue === undefined ? {} : { venue }) };
}

function toScheduleRecord(input: ScheduleInput): ScheduleRecord {
  const id = requireId(input?.id, 'schedule id');
  const concertId = requireId(input.concertId, `concertId of schedule "${id}"`);
  if (typeof input.startsAt !== 'string' || !ISO_8601.test(input.startsAt) || Number.isNaN(Date.parse(input.startsAt))) {
    throw new EngineError('VALIDATION_FAILED', `startsAt of schedule "${id}" must be an ISO 8601 date-time`);
  }
  const totalSeats = requireInteger(input.totalSeats, `totalSeats of schedule "${id}"`, 1, MAX_SEATS_PER_SCHEDULE);
  return { id, concertId, startsAt: input.startsAt, totalSeats, prices: toPriceTiers(input, id, totalSeats) };
}

function toPriceTiers(input: ScheduleInput, id: string, totalSeats: number): PriceTier[] {
  if ((input.price === undefined) === (input.prices === undefined)) {
    throw new EngineError('VALIDATION_FAILED', `schedule "${id}" needs either price or prices`);
  }
  if (input.price !== undefined) {
    return [{ from: 1, to: totalSeats, price: requireInteger(input.price, `price of schedule "${id}"`, 1) }];
  }
  if (!Array.isArray(input.prices) || input.prices.length === 0) {
    throw new EngineError('VALIDATION_FAILED', `prices of schedule "${id}" must be a non-empty array`);
  }
  const tiers: PriceTier[] = [];
  let next = 1;
  for (const tier of input.prices) {
    const from = requireInteger(tier?.from, `prices[].from of schedule "${id}"`, 1, totalSeats);
    const to = requireInteger(tier.to, `prices[].to of schedule "${id}"`, from, totalSeats);
    const price = requireInteger(tier.price, `prices[].price of schedule "${id}"`, 1);
    if (from !== next) throw new EngineError('VALIDATION_FAILED', `prices of schedule "${id}" must cover seats in order from ${next}`);
    tiers.push({ from, to, price });
    next = to + 1;
  }
  if (next !== totalSeats + 1) throw new EngineError('VALIDATION_FAILED', `prices of schedule "${id}" must cover seats up to ${totalSeats}`);
  return tiers;
}
