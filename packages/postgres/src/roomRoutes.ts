import {
  requireTokenRoom,
  roomOfConcert,
  type Lifecycles,
  type TokenState,
} from '@usher/engine/rules';

/**
 * A route's room (SPEC §12): the views of a concert's routes read the
 * concert of what they name (a schedule, or a reservation's schedule) as
 * `route_concert`, and the command checks the token's room against it with
 * the rules' `requireTokenRoom` (`TOKEN_WRONG_ROOM`), as the embedded engine
 * does, before the command's own rule.
 */

/** The column `route_concert`: the id and catalog room of the concert of the schedule `schedule` (an SQL expression). */
export function routeConcertColumn(schedule: string): string {
  return `(SELECT json_build_object('id', c.id, 'room', c.record->'room') FROM schedules s
            JOIN concerts c ON c.id = s.concert_id WHERE s.id = ${schedule}) AS route_concert`;
}

/** A concert as a view reads it (`route_concert`, or a concert's record). */
export interface RouteConcert {
  readonly id: string;
  readonly room?: unknown;
}

/** The room of a route's concert (`undefined`: no such concert, nothing to check). */
export function routeRoom(concert: RouteConcert | null | undefined): string | undefined {
  if (!concert) return undefined;
  return roomOfConcert({ id: concert.id, room: concert.room ?? undefined });
}

/** `TOKEN_WRONG_ROOM` for a live token of another room than the route's concert's. */
export function requireRouteRoom(
  token: TokenState | undefined,
  concert: RouteConcert | null | undefined,
  now: number,
  lifecycles: Lifecycles,
): void {
  requireTokenRoom(token, routeRoom(concert), now, lifecycles);
}
