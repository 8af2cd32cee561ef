import {
  type CatalogInput,
  type CatalogLoadResult,
  type Concert,
  type Schedule,
  type SeatList,
} from '@usher/engine';
import {
  categoryOf,
  concertView,
  checkListConcerts,
  checkListSchedules,
  checkListSeats,
  decideLoadCatalog,
  priceOf,
  requireId,
  type Decision,
} from '@usher/engine/rules';
import { applyKind, changesOf, type ApplyCall } from '../applies.js';
import type { CommandRunner } from '../CommandRunner.js';
import { query } from '../database.js';
import { compareText, concertRecord, scheduleRecord, type ViewKind } from '../reads.js';
import { ensureRooms } from '../room.js';
import { requireRouteRoom, routeConcertColumn, type RouteConcert } from '../roomRoutes.js';
import { lookupKey } from '../storable.js';

/** What the catalog's listings read beside the token. */
export const CATALOG_VIEWS = {
  concerts: {
    name: 'concerts',
    params: [],
    columns: `(SELECT coalesce(json_agg(record), '[]') FROM concerts) AS concerts`,
  },
  schedules: {
    name: 'schedules',
    params: ['text'],
    columns: `(SELECT record FROM concerts WHERE id = q.p1) AS concert,
      (SELECT coalesce(json_agg(json_build_object('record', s.record, 'taken',
         usher_seats_taken(s.id, q.now))), '[]')
         FROM schedules s WHERE s.concert_id = q.p1) AS schedules`,
  },
  seats: {
    name: 'seats',
    params: ['text'],
    columns: `(SELECT record FROM schedules WHERE id = q.p1) AS schedule, ${routeConcertColumn('q.p1')},
      (SELECT coalesce(array_agg(seat_no ORDER BY seat_no), '{}') FROM reservation_seats r
        WHERE r.schedule_id = q.p1 AND usher_seat_occupied(r, q.now)) AS taken`,
  },
} as const satisfies Record<string, ViewKind>;

/** `usher_catalog`'s fields: the new entries, as the rule built their records. */
export interface CatalogArgs {
  readonly concerts: readonly unknown[];
  readonly schedules: readonly unknown[];
}
export const CATALOG = applyKind<CatalogArgs>('usher_catalog');

export function catalogApply(decision: Decision<unknown>): ApplyCall<CatalogArgs> | undefined {
  const added = changesOf(decision, ['catalogAdded']).catalogAdded;
  if (!added) return undefined;
  return {
    kind: CATALOG,
    user: '',
    args: { concerts: added.concerts, schedules: added.schedules },
  };
}

/** Loads a catalog (see `UsherEngine.loadCatalog`): the entries it names are read first, the rule decides what is new. */
export function loadCatalog(
  runner: CommandRunner,
  catalog: CatalogInput,
): Promise<CatalogLoadResult> {
  return runner.run(async (now) => {
    const ids = (values: readonly unknown[]) =>
      values.filter((value): value is string => typeof lookupKey(value) === 'string');
    if (
      typeof catalog !== 'object' ||
      catalog === null ||
      !Array.isArray(catalog.concerts) ||
      !Array.isArray(catalog.schedules)
    ) {
      decideLoadCatalog({ concert: () => undefined, schedule: () => undefined }, catalog);
    }
    const concertIds = ids([
      ...catalog.concerts.map((concert) => concert?.id),
      ...catalog.schedules.map((schedule) => schedule?.concertId),
    ]);
    const scheduleIds = ids(catalog.schedules.map((schedule) => schedule?.id));
    const { answer } = await runner.decide('loadCatalog', now, undefined, async (db) => {
      const { rows } = await query<{
        concerts: Record<string, unknown>[];
        schedules: Record<string, unknown>[];
      }>(
        db,
        `SELECT (SELECT coalesce(json_agg(record), '[]') FROM concerts WHERE id = ANY($1)) AS concerts,
                (SELECT coalesce(json_agg(record), '[]') FROM schedules WHERE id = ANY($2)) AS schedules`,
        [concertIds, scheduleIds],
      );
      const concerts = new Map(
        rows[0]!.concerts.map((json) => [json['id'] as string, concertRecord(json)]),
      );
      const schedules = new Map(
        rows[0]!.schedules.map((json) => [json['id'] as string, scheduleRecord(json)]),
      );
      const decision = decideLoadCatalog(
        { concert: (id) => concerts.get(id), schedule: (id) => schedules.get(id) },
        catalog,
      );
      const apply = catalogApply(decision);
      return apply ? { decision, apply } : { decision };
    });
    // The rooms of the concerts added (migration 7), then a step that publishes them to every engine.
    if (answer.concertsAdded > 0 && (await ensureRooms(runner.pool, runner.config, now)) > 0)
      await runner.line.catchUp(now);
    return answer;
  });
}

export function listConcerts(runner: CommandRunner, token: string): Promise<readonly Concert[]> {
  return runner.run(async (now) => {
    const { facts, row } = await runner.view<{ concerts: Record<string, unknown>[] }>(
      token,
      now,
      CATALOG_VIEWS.concerts,
      [],
    );
    checkListConcerts(facts, now, runner.lifecycles);
    return row.concerts
      .map(concertRecord)
      .sort((a, b) => compareText(a.id, b.id))
      .map(concertView);
  });
}

export function listSchedules(
  runner: CommandRunner,
  token: string,
  concertId: string,
): Promise<readonly Schedule[]> {
  return runner.run(async (now) => {
    requireId(concertId, 'concertId');
    const { facts, row } = await runner.view<{
      concert: unknown;
      schedules: { record: Record<string, unknown>; taken: number }[];
    }>(token, now, CATALOG_VIEWS.schedules, [concertId]);
    requireRouteRoom(facts.token, row.concert as RouteConcert | null, now, runner.lifecycles);
    checkListSchedules(
      { ...facts, concert: row.concert ?? undefined },
      concertId,
      now,
      runner.lifecycles,
    );
    const list: Schedule[] = [];
    for (const { record, taken } of row.schedules) {
      const { id, startsAt, totalSeats, seatsPerRow } = scheduleRecord(record);
      const availableSeats = totalSeats - Number(taken);
      if (availableSeats > 0)
        list.push({
          id,
          concertId,
          startsAt,
          totalSeats,
          availableSeats,
          ...(seatsPerRow === undefined ? {} : { seatsPerRow }),
        });
    }
    return list.sort((a, b) => compareText(a.startsAt, b.startsAt) || compareText(a.id, b.id));
  });
}

export function listSeats(
  runner: CommandRunner,
  token: string,
  scheduleId: string,
): Promise<SeatList> {
  return runner.run(async (now) => {
    requireId(scheduleId, 'scheduleId');
    const { facts, row } = await runner.view<{
      schedule: Record<string, unknown> | null;
      route_concert: RouteConcert | null;
      taken: number[];
    }>(token, now, CATALOG_VIEWS.seats, [scheduleId]);
    requireRouteRoom(facts.token, row.route_concert, now, runner.lifecycles);
    checkListSeats(
      { ...facts, schedule: row.schedule ?? undefined },
      scheduleId,
      now,
      runner.lifecycles,
    );
    const { totalSeats, prices } = scheduleRecord(row.schedule!);
    const seats = [];
    let next = 0;
    for (let seatNo = 1; seatNo <= totalSeats; seatNo++) {
      if (row.taken[next] === seatNo) {
        next++;
        continue;
      }
      const category = categoryOf(prices, seatNo);
      const price = priceOf(prices, seatNo);
      seats.push(category === undefined ? { seatNo, price } : { seatNo, price, category });
    }
    return { scheduleId, seats };
  });
}
