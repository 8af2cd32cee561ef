import type { ProblemCode } from './errors.js';
import type { Route, RouteLimits, RouteServices } from './routes.js';
import * as schemas from './schemas.js';

const route = <P, B, Q = unknown>(definition: Route<P, B, Q>): Route =>
  definition as unknown as Route;

/** Refusals of a route that takes any known token (as `GET /reservations`). */
const knownToken: ProblemCode[] = ['TOKEN_MISSING', 'TOKEN_INVALID'];

/**
 * The waitlist (SPEC §11): joining a sold-out date's list, reading and
 * leaving one's entry, and the entry's event stream (offers pushed live).
 */
export function waitlistRoutes(limits: RouteLimits, service: RouteServices): Route[] {
  return [
    route({
      operationId: 'joinWaitlist',
      method: 'post',
      path: '/schedules/:scheduleId/waitlist',
      summary: 'Wait for a seat of a sold-out date',
      description:
        "Only while the date has no seat for sale (else 409 `SEATS_AVAILABLE`: reserve one), with an active token of its concert's room, " +
        'once per user and date (409 `WAITLIST_JOINED` with your `position`). `quantity` seats (default 1, at most `maxSeatsPerOrder`); ' +
        'your held seats and tickets of the date plus `quantity` must stay within `maxTicketsPerUser` (409 `TICKET_LIMIT_REACHED`). ' +
        'A seat freed later (a hold that expires or is cancelled, a refunded ticket) goes to the waitlist first, in order: it becomes a hold ' +
        'of the first waiting user (`origin: "waitlist"`, the normal hold time), listed by their `GET /reservations` and pushed on ' +
        '`GET /schedules/{scheduleId}/waitlist/me/events`, until they have what they asked for. Such a hold is paid, extended or cancelled ' +
        'with any known token of theirs. Only an empty waitlist puts seats back on sale.',
      bearer: true,
      params: schemas.ScheduleParams,
      body: schemas.waitlistBody(limits.maxSeatsPerOrder),
      success: { status: 201, schema: schemas.WaitlistEntry, description: 'Your entry' },
      errors: [
        'VALIDATION_FAILED',
        'TOKEN_MISSING',
        'TOKEN_INVALID',
        'TOKEN_NOT_ACTIVE',
        'TOKEN_WRONG_ROOM',
        'SCHEDULE_NOT_FOUND',
        'SEATS_AVAILABLE',
        'WAITLIST_JOINED',
        'TICKET_LIMIT_REACHED',
      ],
      handle: async ({ engine, token, params, body }) => ({
        status: 201,
        body: await engine.joinWaitlist(token, params.scheduleId, body ?? {}),
      }),
    }),
    route({
      operationId: 'getWaitlistEntry',
      method: 'get',
      path: '/schedules/:scheduleId/waitlist/me',
      summary: 'Your place on the waitlist',
      description:
        'Your entry: `position` (1 is next), `quantity` asked for, `offered` so far. Any known token of yours will do (a kept one too). ' +
        'Not on the list (never joined, left, or given all you asked for): 404 `WAITLIST_NOT_FOUND`.',
      bearer: true,
      params: schemas.ScheduleParams,
      success: { status: 200, schema: schemas.WaitlistEntry, description: 'Your entry' },
      errors: ['VALIDATION_FAILED', ...knownToken, 'WAITLIST_NOT_FOUND'],
      handle: async ({ engine, token, params }) => ({
        body: await engine.getWaitlistEntry(token, params.scheduleId),
      }),
    }),
    route({
      operationId: 'leaveWaitlist',
      method: 'delete',
      path: '/schedules/:scheduleId/waitlist/me',
      summary: 'Leave the waitlist',
      description:
        'Removes your entry (holds already offered to you stay yours). Any known token of yours. Not on the list: 404 `WAITLIST_NOT_FOUND`.',
      bearer: true,
      params: schemas.ScheduleParams,
      success: { status: 200, schema: schemas.WaitlistEntry, description: 'The entry removed' },
      errors: ['VALIDATION_FAILED', ...knownToken, 'WAITLIST_NOT_FOUND'],
      handle: async ({ engine, token, params }) => ({
        body: await engine.leaveWaitlist(token, params.scheduleId),
      }),
    }),
    route({
      operationId: 'watchWaitlistEntry',
      method: 'get',
      path: '/schedules/:scheduleId/waitlist/me/events',
      summary: 'Your place on the waitlist and your offers, live (Server-Sent Events)',
      description:
        'A `text/event-stream`: `event: waitlist` with your entry at once and at every change (your position moves, seats offered), ' +
        '`event: reservation` with each hold offered to you (a Reservation, `origin: "waitlist"`), once it is durable. When your entry is gone ' +
        '(you have all you asked for, or left), a last `event: waitlist` with `data: null`, and the stream ends. Any known token of yours; ' +
        '`EventSource` cannot send headers, so it may also come as `?access_token=`. Streams end after their lifetime like token streams; ' +
        '`EventSource` reconnects by itself (404 `WAITLIST_NOT_FOUND` once the entry is gone).',
      bearer: true,
      queryToken: true,
      params: schemas.ScheduleParams,
      success: {
        status: 200,
        schema: schemas.WaitlistEvents,
        description: 'Events: `waitlist` (a WaitlistEntry or null), `reservation` (a Reservation)',
        mediaType: 'text/event-stream',
      },
      errors: ['VALIDATION_FAILED', ...knownToken, 'WAITLIST_NOT_FOUND'],
      handle: async ({ engine, token, params }) => ({
        events: await service.events.openWaitlist(engine, token, params.scheduleId),
      }),
    }),
  ];
}
