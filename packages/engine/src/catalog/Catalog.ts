import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { ConcertRecord, ScheduleRecord } from '../persistence/records.js';
import { categoryOf, priceOf } from '../rules/catalog.js';
import { concertView } from '../rules/room.js';
import { SeatMap } from '../seats/SeatMap.js';
import { SeatPicker } from '../seats/SeatPicker.js';
import type { Concert, Schedule } from '../types.js';

/** A schedule with its seats and prices. */
export class ScheduleEntry {
  readonly record: ScheduleRecord;
  readonly seats: SeatMap;

  constructor(record: ScheduleRecord) {
    this.record = record;
    this.seats = new SeatMap(record.totalSeats);
  }

  get id(): string {
    return this.record.id;
  }

  get totalSeats(): number {
    return this.record.totalSeats;
  }

  /** Price of a seat in `1..totalSeats`. */
  priceOf = (seatNo: number): number => priceOf(this.record.prices, seatNo);

  /** Category (tier name) of a seat in `1..totalSeats`, if its tier has one. */
  categoryOf = (seatNo: number): string | undefined => categoryOf(this.record.prices, seatNo);

  #picker: SeatPicker | undefined;

  /**
   * Best available's index of free runs: built on first use (one pass over
   * the seats), then kept up to date by the seat map at O(log n) a seat.
   */
  get picker(): SeatPicker {
    if (!this.#picker) {
      this.#picker = new SeatPicker(this.record, this.seats.isAvailable);
      this.seats.attach(this.#picker);
    }
    return this.#picker;
  }
}

/** Concerts and their dates. Loaded once, then read-only but for seat states. */
export class Catalog {
  readonly #concerts = new Map<string, ConcertRecord>();
  readonly #schedules = new Map<string, ScheduleEntry>();
  readonly #byConcert = new Map<string, ScheduleEntry[]>();
  readonly #availability = new Map<string, { versions: number[]; list: readonly Schedule[] }>();
  #concertList: readonly Concert[] = [];
  #totalSeats = 0;

  get concertCount(): number {
    return this.#concerts.size;
  }

  get scheduleCount(): number {
    return this.#schedules.size;
  }

  /** Seats of every schedule (for sold-out, with the hold book's counts). */
  get totalSeats(): number {
    return this.#totalSeats;
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
    if (
      cached &&
      cached.versions.length === entries.length &&
      entries.every((entry, i) => entry.seats.version === cached.versions[i])
    ) {
      return cached.list;
    }
    const list: Schedule[] = [];
    for (const { record, seats } of entries) {
      if (seats.availableCount === 0) continue;
      const { id, startsAt, totalSeats, seatsPerRow } = record;
      list.push(
        Object.freeze({
          id,
          concertId,
          startsAt,
          totalSeats,
          availableSeats: seats.availableCount,
          ...(seatsPerRow === undefined ? {} : { seatsPerRow }),
        }),
      );
    }
    this.#availability.set(concertId, {
      versions: entries.map((entry) => entry.seats.version),
      list: Object.freeze(list),
    });
    return list;
  }

  *allSchedules(): IterableIterator<ScheduleEntry> {
    yield* this.#schedules.values();
  }

  /** Adds concerts and schedules the rules decided are new (`rules/catalog.ts`). */
  add(
    concerts: readonly ConcertRecord[],
    schedules: readonly ScheduleRecord[],
    tx: ChangeSet,
  ): void {
    for (const record of concerts) {
      this.addConcert(record);
      tx.put('concerts', record.id, record);
    }
    for (const record of schedules) {
      this.addSchedule(record);
      tx.put('schedules', record.id, record);
    }
  }

  addConcert(record: ConcertRecord): void {
    this.#concerts.set(record.id, record);
    this.#concertList = Object.freeze(
      [...this.#concerts.values()].sort((a, b) => compare(a.id, b.id)).map(concertView),
    );
  }

  addSchedule(record: ScheduleRecord): ScheduleEntry {
    const entry = new ScheduleEntry(record);
    this.#schedules.set(record.id, entry);
    this.#totalSeats += record.totalSeats;
    const list = [...(this.#byConcert.get(record.concertId) ?? []), entry];
    list.sort(
      (a, b) => compare(a.record.startsAt, b.record.startsAt) || compare(a.record.id, b.record.id),
    );
    this.#byConcert.set(record.concertId, list);
    return entry;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
