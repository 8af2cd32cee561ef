import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type {
  EngineConfig,
  QueueToken,
  ReserveRequest,
  Room,
  RoomChange,
  RoomSettings,
  UsherEngine,
} from '@usher/engine';
import type { Jwks } from '@usher/engine/signing';
import { isReplay, type CheckIn, type Ticket, type TicketClaims } from '@usher/engine';
import type * as z from 'zod';
import type { ProofOfWork } from './challenge.js';
import { HttpProblem, type ProblemCode } from './errors.js';
import type { Telemetry } from './telemetry.js';
import type { TokenEventStreams } from './tokenEvents.js';
import { waitlistRoutes } from './waitlistRoutes.js';
import * as schemas from './schemas.js';

/** What a route handler gets: validated input and the engine. */
export interface RouteInput<P, B, Q = unknown> {
  readonly engine: UsherEngine;
  readonly params: P;
  /** The validated query string (routes with a `query` schema). */
  readonly query: Q;
  readonly body: B;
  /** The bearer token, `''` when there is none (the engine answers `TOKEN_MISSING`). */
  readonly token: string;
  readonly idempotencyKey: string | undefined;
  /** With `resolveUserId`: the user the host application identified (`undefined` if it did not). */
  readonly hostUserId: string | undefined;
  /** Whether the app was given `resolveUserId`. */
  readonly hostAuth: boolean;
  /** Who sent the request, for the operator's audit log. */
  readonly client: { readonly requestId: string; readonly address: string };
}

/** One route: its contract (for the router, the validation and the OpenAPI document) and its handler. */
export interface Route<P = unknown, B = unknown, Q = unknown> {
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'delete' | 'patch';
  /** Koa style: `/reservations/:reservationId`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  /** Whether the route reads a queue token (`Authorization: Bearer`). */
  readonly bearer: boolean;
  /** Whether the token may also come as `?access_token=` (RFC 6750; for `EventSource`, which cannot send headers). */
  readonly queryToken?: boolean;
  /** A `get` route that also answers `HEAD` (the probes, for `curl -I` and load balancers); others refuse it with 405. */
  readonly head?: boolean;
  /** An operator's route: `Authorization: Bearer <adminToken>`, checked before anything else. */
  readonly admin?: boolean;
  /** A door scanner's route (SPEC §11): `Authorization: Bearer <scannerToken>`, checked before anything else. */
  readonly scanner?: boolean;
  /**
   * Acts for a user who need not be in the waiting room (SPEC §11, tickets): the owner of the
   * bearer queue token (any the engine knows, kept ones too), or with `resolveUserId` the
   * signed-in user alone. The handler finds them with {@link userOf}.
   */
  readonly user?: boolean;
  /** Counted by the token rate limit per client address, before anything else is read. */
  readonly rateLimited?: boolean;
  /** Needs a solved proof-of-work challenge (`X-Challenge`), checked once the request is otherwise valid. */
  readonly challenged?: boolean;
  readonly params?: z.ZodType<P>;
  readonly body?: z.ZodType<B>;
  /** The query string's parameters (an object schema; unknown ones are ignored). */
  readonly query?: z.ZodType<Q>;
  readonly idempotent?: boolean;
  /**
   * Its answer carries a strong `ETag` (the handler answers `{ json, etag }`) and a short
   * `Cache-Control`, and is 304 Not Modified to an `If-None-Match` that names it.
   */
  readonly cacheable?: boolean;
  readonly success: {
    readonly status: 200 | 201;
    readonly schema: z.ZodType;
    readonly description: string;
    /** Default `application/json`. */
    readonly mediaType?: 'text/event-stream' | 'text/plain';
  };
  /** A second success status with the same body (issuing answers 200 for an existing token). */
  readonly alsoAnswers?: { readonly status: 200; readonly description: string };
  /** Refusals this route documents (besides the ones every route can give). */
  readonly errors: readonly ProblemCode[];
  readonly handle: (input: RouteInput<P, B, Q>) => Promise<RouteAnswer>;
}

/** A route's answer: a body to serialize, JSON already serialized, or an event stream. */
export type RouteAnswer = {
  readonly status?: number;
  /** Headers besides the defaults (e.g. a `Cache-Control` other than `no-store`). */
  readonly headers?: Readonly<Record<string, string>>;
} & (
  | { readonly body: unknown }
  /** `etag`: a strong validator of `json` (see {@link cachedAnswer}): the answer carries it, and is 304 to a client that has it. */
  | { readonly json: string; readonly etag?: string }
  | { readonly events: Readable }
  | { readonly text: string; readonly type: string }
);

/**
 * The engine returns the same frozen seat and date lists until something in
 * them changes, so their JSON and its ETag are kept by identity: browsing does
 * not serialize them again for every request. The ETag is the list's JSON's
 * SHA-256 (22 base64url characters): derived from the data, so it is right on
 * every engine and every gateway (PostgreSQL's lists are read afresh, and
 * hashed each time), and it changes exactly when the answer's bytes do.
 */
const serialized = new WeakMap<object, { readonly json: string; readonly etag: string }>();
function cachedAnswer(list: readonly object[]): { readonly json: string; readonly etag: string } {
  let answer = serialized.get(list);
  if (answer === undefined) {
    const json = JSON.stringify(list);
    answer = {
      json,
      etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 22)}"`,
    };
    serialized.set(list, answer);
  }
  return answer;
}

/**
 * Set to `true` on the answer to a retried idempotent request (`Idempotency-Key`): the first request's stored
 * answer, status and body alike, with nothing done now.
 */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

const route = <P, B, Q = unknown>(definition: Route<P, B, Q>): Route =>
  definition as unknown as Route;

const needsActiveToken: ProblemCode[] = ['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_NOT_ACTIVE'];

/** Refuses unless the engine takes commands. Why it failed is for the operator's log, not for this answer. */
function requireHealthy(engine: UsherEngine): void {
  const { status } = engine.health;
  if (status === 'failed')
    throw new HttpProblem(
      'UNAVAILABLE',
      'the service failed and must be restarted; try again shortly',
    );
  if (status === 'closing') throw new HttpProblem('SHUTTING_DOWN', 'the service is shutting down');
}

/** What the routes use besides the engine. */
export interface RouteServices {
  readonly document: () => unknown;
  readonly events: TokenEventStreams;
  readonly telemetry: Telemetry;
  /** With an admin token: the operator's routes and `/metrics`. */
  readonly admin: boolean;
  /** Whether `POST /queue/tokens` is rate limited. */
  readonly rateLimited: boolean;
  /** With proof of work on: `GET /queue/challenge`, and joining needs a solution. */
  readonly challenge: ProofOfWork | undefined;
  /** Writes an operator's creation of presale codes to the log (how many, for which room; never the codes). */
  readonly auditCodes?: (
    roomId: string,
    count: number,
    client: RouteInput<unknown, unknown>['client'],
  ) => void;
  /** Writes an operator's refund of a ticket to the log (SPEC §11). */
  readonly auditRefund?: (ticket: Ticket, client: RouteInput<unknown, unknown>['client']) => void;
  /** The token as answered: an active one with its pass (SPEC §12). */
  readonly withPass: (token: QueueToken) => Promise<QueueToken>;
  /** The public keys of passes (and ticket codes), for `GET /.well-known/jwks.json`. */
  readonly jwks: () => Promise<Jwks>;
  /** With a scanner token: `POST /checkin`. */
  readonly scanner?: boolean;
  /** A ticket as answered: with its `code` (`withCode` of `@usher/engine/signing`). */
  readonly withCode: (ticket: Ticket) => Promise<Ticket & { readonly code: string }>;
  /** The claims of a ticket code this app's keys signed, or `undefined` (`verifyTicketCode`). */
  readonly verifyCode: (code: string) => Promise<TicketClaims | undefined>;
  /** Writes an operator's change to the log. */
  readonly audit: (
    change: RoomChange,
    patch: Partial<RoomSettings>,
    client: RouteInput<unknown, unknown>['client'],
  ) => void;
}

/** The room as the API answers it: its settings and counts, nothing else the engine may add. */
function roomView(room: Room): z.infer<typeof schemas.Room> {
  const { paused, admitPerTick, maxActive, opensAt, shuffle, waiting, active, admittedTotal } =
    room;
  return { paused, admitPerTick, maxActive, opensAt, shuffle, waiting, active, admittedTotal };
}

/** A room named by its id (SPEC §12), with the counts and sold-out. */
function namedRoomView(room: Room): z.infer<typeof schemas.NamedRoom> {
  return { id: room.id ?? 'default', ...roomView(room), soldOut: room.soldOut };
}

/** Every route of the API (SPEC §6, §9), for an engine with the given limits. */
/** The engine's limits the routes validate with, or show (`GET /order-limits`). */
export type RouteLimits = Pick<
  EngineConfig,
  | 'maxChargeAmount'
  | 'maxSeatsPerOrder'
  | 'maxTicketsPerUser'
  | 'maxHoldsPerUser'
  | 'holdTtlMs'
  | 'holdExtensionMs'
  | 'holdExtensions'
>;

export function apiRoutes(limits: RouteLimits, service: RouteServices): Route[] {
  return [
    ...userRoutes(limits, service),
    ...ticketRoutes(service),
    ...waitlistRoutes(limits, service),
    ...(service.challenge ? [challengeRoute(service.challenge)] : []),
    ...(service.admin ? operatorRoutes(service) : []),
  ];
}

/** `GET /queue/challenge` (SPEC §9), when proof of work is on. */
function challengeRoute(challenge: ProofOfWork): Route {
  return route({
    operationId: 'getChallenge',
    method: 'get',
    path: '/queue/challenge',
    summary: 'A proof-of-work challenge to solve before joining',
    description:
      'An ALTCHA challenge (v1 protocol): find `number` in [0, maxnumber] with hex(SHA-256(salt + number)) = challenge, then join with ' +
      '`X-Challenge: base64(JSON {algorithm, challenge, number, salt, signature})`. A challenge expires after 5 minutes by default and a solution is good once.',
    bearer: false,
    success: { status: 200, schema: schemas.Challenge, description: 'A challenge' },
    errors: [],
    handle: async () => ({ body: await challenge.issue() }),
  });
}

/** The operator's routes (SPEC §9): the room, and the metrics. */
function operatorRoutes(service: RouteServices): Route[] {
  const admin = {
    bearer: false,
    admin: true,
    errors: ['ADMIN_TOKEN_INVALID', 'RATE_LIMITED'] as ProblemCode[],
  };
  return [
    route({
      ...admin,
      operationId: 'getRoom',
      method: 'get',
      path: '/admin/room',
      summary: 'The waiting room: settings and counts',
      success: { status: 200, schema: schemas.Room, description: 'The room' },
      handle: async ({ engine }) => ({ body: roomView(await engine.room()) }),
    }),
    route({
      ...admin,
      operationId: 'updateRoom',
      method: 'patch',
      path: '/admin/room',
      summary: 'Change the waiting room live',
      description:
        'Any of `paused`, `admitPerTick`, `maxActive`, `opensAt`, `shuffle`; durable, in effect at the next tick, no restart. ' +
        '`paused: true` admits nobody; a lower `maxActive` admits nobody until the active count is under it (nobody is thrown out). ' +
        'Every change is logged with its request id and address, before and after. An unknown field, a wrong type, a value out of range or an empty change ' +
        'is 400 VALIDATION_FAILED and changes nothing.',
      body: schemas.RoomSettingsPatch,
      success: { status: 200, schema: schemas.Room, description: 'The room after the change' },
      errors: ['ADMIN_TOKEN_INVALID', 'RATE_LIMITED', 'VALIDATION_FAILED'],
      handle: async ({ engine, body, client }) => {
        const patch = body as Partial<RoomSettings>;
        const change = await engine.updateRoom(patch);
        service.audit(change, patch, client);
        return { body: roomView(change.room) };
      },
    }),
    route({
      ...admin,
      operationId: 'listRooms',
      method: 'get',
      path: '/admin/rooms',
      summary: 'Every waiting room: settings and counts',
      description:
        '`default` first (the concerts without a room of their own), then the room of each concert that has one (`catalog.concerts[].room`), in the order they were added.',
      success: { status: 200, schema: schemas.RoomList, description: 'The rooms' },
      handle: async ({ engine }) => ({
        body: { rooms: (await engine.rooms()).map(namedRoomView) },
      }),
    }),
    route({
      ...admin,
      operationId: 'getNamedRoom',
      method: 'get',
      path: '/admin/rooms/:roomId',
      summary: 'One waiting room: settings and counts',
      description: "`default` is the room of `/admin/room`; a concert's own room has its id.",
      params: schemas.RoomParams,
      success: { status: 200, schema: schemas.NamedRoom, description: 'The room' },
      errors: ['ADMIN_TOKEN_INVALID', 'RATE_LIMITED', 'ROOM_NOT_FOUND'],
      handle: async ({ engine, params }) => ({
        body: namedRoomView(await engine.room(params.roomId)),
      }),
    }),
    route({
      ...admin,
      operationId: 'updateNamedRoom',
      method: 'patch',
      path: '/admin/rooms/:roomId',
      summary: 'Change one waiting room live',
      description:
        'As `PATCH /admin/room`, for the room named: any of `paused`, `admitPerTick`, `maxActive`, `opensAt`, `shuffle`; durable, in effect at its next tick; logged.',
      params: schemas.RoomParams,
      body: schemas.RoomSettingsPatch,
      success: { status: 200, schema: schemas.NamedRoom, description: 'The room after the change' },
      errors: ['ADMIN_TOKEN_INVALID', 'RATE_LIMITED', 'VALIDATION_FAILED', 'ROOM_NOT_FOUND'],
      handle: async ({ engine, params, body, client }) => {
        const patch = body as Partial<RoomSettings>;
        const change = await engine.updateRoom(patch, params.roomId);
        service.audit(change, patch, client);
        return { body: namedRoomView(change.room) };
      },
    }),
    route({
      ...admin,
      operationId: 'createPresaleCodes',
      method: 'post',
      path: '/admin/rooms/:roomId/codes',
      summary: 'Create one-use presale codes for a room',
      description:
        '`count` (1..1000) fresh codes, each 120 random bits. Only their SHA-256 is stored: this answer is the only place they appear. ' +
        'A join of the room with an unused code (`POST /queue/tokens {userId, concertId, code}`) goes to the head of its line, before everyone ' +
        'without one, and is admitted at the next tick with a free place under `maxActive` (even before `opensAt`, unless the room is paused); ' +
        'the code is then spent, once, whichever process sees it first. Logged (the count, never the codes).',
      params: schemas.RoomParams,
      body: schemas.CreateCodesBody,
      success: { status: 201, schema: schemas.PresaleCodes, description: 'The new codes' },
      errors: ['ADMIN_TOKEN_INVALID', 'RATE_LIMITED', 'VALIDATION_FAILED', 'ROOM_NOT_FOUND'],
      handle: async ({ engine, params, body, client }) => {
        const { count } = body as { count: number };
        const created = await engine.createCodes(params.roomId, count);
        service.auditCodes?.(params.roomId, count, client);
        return { status: 201, body: { codes: [...created.codes] } };
      },
    }),
    route({
      ...admin,
      operationId: 'metrics',
      method: 'get',
      path: '/metrics',
      summary: 'Metrics for Prometheus',
      description:
        'Prometheus text: `usher_queue_waiting`, `usher_queue_active`, `usher_admitted_total` (every room together; each room: `usher_room_waiting{room}`, ' +
        '`usher_room_active{room}`, `usher_room_admitted_total{room}`), `usher_tick_duration_seconds`, ' +
        '`usher_commit_duration_seconds`, `http_request_duration_seconds{route,method,status}`, `http_requests_in_flight`, ' +
        '`usher_event_streams_open`, `usher_rate_limited_total`, `usher_rate_limiter_errors_total`, `usher_challenge_failed_total{reason}`, ' +
        "`usher_engine_up`, and the process's own (CPU, memory, event loop lag, GC). The view of the process that answers: scrape every gateway. " +
        'Every metric carries the labels the host gave its telemetry (the server in a cluster: `worker`, the worker that answered this scrape); ' +
        'on PostgreSQL the queue gauges and `usher_admitted_total` read the database, the same from every process.',
      success: {
        status: 200,
        schema: schemas.MetricsText,
        description: 'The metrics',
        mediaType: 'text/plain',
      },
      handle: async () => ({
        text: await service.telemetry.registry.metrics(),
        type: service.telemetry.registry.contentType,
      }),
    }),
  ];
}

/** The routes of people buying tickets (SPEC §6). */
function userRoutes(limits: RouteLimits, service: RouteServices): Route[] {
  return [
    route({
      operationId: 'health',
      method: 'get',
      path: '/health',
      head: true,
      summary: 'Liveness',
      description:
        'Answers 503 `UNAVAILABLE` once the engine failed (a write it could not make durable, or a command that faulted): ' +
        'the process must be restarted, which restores what is durable. 503 `SHUTTING_DOWN` while the server drains or the engine closes.',
      bearer: false,
      success: { status: 200, schema: schemas.Health, description: 'Up' },
      errors: [],
      handle: async ({ engine }) => {
        requireHealthy(engine);
        return { body: { status: 'ok' } };
      },
    }),
    route({
      operationId: 'ready',
      method: 'get',
      path: '/ready',
      head: true,
      summary: 'Readiness: whether to send traffic here',
      description:
        '200 only while the engine takes commands. 503 `UNAVAILABLE` once it failed, or while its database (PostgreSQL mode) does not answer within a second; ' +
        '503 `SHUTTING_DOWN` while the server drains or the engine closes.',
      bearer: false,
      success: { status: 200, schema: schemas.Ready, description: 'Taking requests' },
      errors: [],
      handle: async ({ engine }) => {
        requireHealthy(engine);
        await engine.ready();
        return { body: { status: 'ready' } };
      },
    }),
    route({
      operationId: 'openapi',
      method: 'get',
      path: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      bearer: false,
      success: { status: 200, schema: schemas.OpenApiDocument, description: 'The document' },
      errors: [],
      handle: async () => ({ body: service.document() }),
    }),
    route({
      operationId: 'issueToken',
      method: 'post',
      path: '/queue/tokens',
      summary: 'Join the waiting room',
      description:
        "Answers the user's live token of the room (200) or a new one (201). A new token is active at once when nobody waits and there is room. " +
        "`concertId` joins that concert's room (one live token per user per room; a token admits to its own room's concerts only, 403 `TOKEN_WRONG_ROOM` " +
        'elsewhere; 404 `CONCERT_NOT_FOUND` for none); without it, the default room. `code`, an unused presale code of that room, puts a new token at the ' +
        "head of the line and is spent; unknown, of another room or spent: 400 `CODE_INVALID` (a user's retried join answers their token and spends nothing). " +
        'With `resolveUserId`, the user comes from the host application and the body may be empty.' +
        (service.rateLimited
          ? ' Limited per client address: over the limit, 429 `RATE_LIMITED` with `Retry-After` (seconds).'
          : '') +
        (service.challenge !== undefined
          ? ' Needs a solved challenge of `GET /queue/challenge` in `X-Challenge`; missing, wrong, expired or used before: 400 `CHALLENGE_FAILED`.'
          : ''),
      bearer: false,
      rateLimited: service.rateLimited,
      challenged: service.challenge !== undefined,
      body: schemas.IssueTokenBody,
      success: { status: 201, schema: schemas.QueueToken, description: 'A new token' },
      alsoAnswers: { status: 200, description: "The user's live token" },
      errors: [
        'VALIDATION_FAILED',
        'FORBIDDEN',
        'CODE_INVALID',
        'CONCERT_NOT_FOUND',
        ...(service.rateLimited ? (['RATE_LIMITED'] as const) : []),
        ...(service.challenge !== undefined ? (['CHALLENGE_FAILED'] as const) : []),
      ],
      handle: async ({ engine, body, hostAuth, hostUserId }) => {
        const userId = hostAuth ? hostUserId : body.userId;
        if (
          hostAuth &&
          (hostUserId === undefined || (body.userId !== undefined && body.userId !== hostUserId))
        ) {
          throw new HttpProblem(
            'FORBIDDEN',
            hostUserId === undefined ? 'you are not signed in' : 'you may only queue as yourself',
          );
        }
        if (userId === undefined) {
          throw new HttpProblem('VALIDATION_FAILED', 'userId is required', {
            extra: { errors: [{ path: 'body.userId', message: 'Required' }] },
          });
        }
        const join = {
          ...(body.concertId === undefined ? {} : { concertId: body.concertId }),
          ...(body.code === undefined ? {} : { code: body.code }),
        };
        const { token, created } = await engine.issueToken(userId, join);
        return { status: created ? 201 : 200, body: await service.withPass(token) };
      },
    }),
    route({
      operationId: 'getCurrentToken',
      method: 'get',
      path: '/queue/tokens/current',
      summary: 'Your token: status, position, wait estimate',
      description:
        'Polling keeps a waiting token from being abandoned. A token that ended because nothing is left to sell answers 200 with `status: "expired"` and ' +
        '`reason: "sold_out"` (a day long, as a paid token is kept): join again later, or stop. Any other expired or unknown token is 401 `TOKEN_INVALID`.',
      bearer: true,
      success: { status: 200, schema: schemas.QueueToken, description: 'The token' },
      errors: ['TOKEN_MISSING', 'TOKEN_INVALID'],
      handle: async ({ engine, token }) => ({
        body: await service.withPass(await engine.getToken(token)),
      }),
    }),
    route({
      operationId: 'watchCurrentToken',
      method: 'get',
      path: '/queue/tokens/current/events',
      summary: 'Your token, live (Server-Sent Events)',
      description:
        'A `text/event-stream`: an `event: token` with the QueueToken at once, then whenever its status, position or wait estimate ' +
        'changes (at most once per scheduler tick); the stream ends once the token is active or expired. An open stream counts as polling. ' +
        'A stream also ends after its maximum lifetime (15 min by default), and a token has at most 3 streams open (a newer one ends the oldest): ' +
        'both are normal ends, after which `EventSource` reconnects by itself. The active token comes with its `pass`. ' +
        '`EventSource` cannot send headers, so the token may also come as `?access_token=` (RFC 6750).',
      bearer: true,
      queryToken: true,
      success: {
        status: 200,
        schema: schemas.TokenEvents,
        description: 'Events, each `data` a QueueToken',
        mediaType: 'text/event-stream',
      },
      errors: ['TOKEN_MISSING', 'TOKEN_INVALID'],
      handle: async ({ engine, token }) => ({
        events: await service.events.open(engine, token, service.withPass),
      }),
    }),
    route({
      operationId: 'jwks',
      method: 'get',
      path: '/.well-known/jwks.json',
      summary: 'The public keys of passes and ticket codes (JWKS)',
      description:
        'Ed25519 keys (`kty: OKP`, `alg: EdDSA`), one `kid` per use: `pass-…` signs the `pass` of an active token, `ticket-…` ticket codes. ' +
        'A site verifies a pass with any JOSE library given this URL, offline. After a key rotation the previous keys stay listed, ' +
        'so what they signed still verifies. Cacheable for 5 minutes.',
      bearer: false,
      success: { status: 200, schema: schemas.Jwks, description: 'The key set' },
      errors: [],
      handle: async () => ({
        body: await service.jwks(),
        headers: { 'Cache-Control': 'public, max-age=300' },
      }),
    }),
    route({
      operationId: 'listConcerts',
      method: 'get',
      path: '/concerts',
      summary: 'Concerts',
      bearer: true,
      success: { status: 200, schema: schemas.ConcertList, description: 'Every concert' },
      errors: needsActiveToken,
      handle: async ({ engine, token }) => ({
        body: { concerts: await engine.listConcerts(token) },
      }),
    }),
    route({
      operationId: 'listSchedules',
      method: 'get',
      path: '/concerts/:concertId/schedules',
      summary: 'Dates of a concert with seats left',
      bearer: true,
      cacheable: true,
      params: schemas.ConcertParams,
      success: {
        status: 200,
        schema: schemas.ScheduleList,
        description: 'Dates with available seats, by start time',
      },
      errors: ['VALIDATION_FAILED', ...needsActiveToken, 'TOKEN_WRONG_ROOM', 'CONCERT_NOT_FOUND'],
      handle: async ({ engine, token, params }) => {
        const { json, etag } = cachedAnswer(await engine.listSchedules(token, params.concertId));
        return { json: `{"schedules":${json}}`, etag };
      },
    }),
    route({
      operationId: 'listSeats',
      method: 'get',
      path: '/schedules/:scheduleId/seats',
      summary: 'Available seats of a date',
      bearer: true,
      cacheable: true,
      params: schemas.ScheduleParams,
      success: { status: 200, schema: schemas.SeatList, description: 'Available seats, ascending' },
      errors: ['VALIDATION_FAILED', ...needsActiveToken, 'TOKEN_WRONG_ROOM', 'SCHEDULE_NOT_FOUND'],
      handle: async ({ engine, token, params }) => {
        const { scheduleId, seats } = await engine.listSeats(token, params.scheduleId);
        // The date's id is the path's: one list of seats is one answer for this URL.
        const { json, etag } = cachedAnswer(seats);
        return { json: `{"scheduleId":${JSON.stringify(scheduleId)},"seats":${json}}`, etag };
      },
    }),
    route({
      operationId: 'getOrderLimits',
      method: 'get',
      path: '/order-limits',
      summary: 'How much one order and one user may take',
      description:
        'Seats per reservation, held plus paid seats per user and date, holds per user, how long a hold lasts ' +
        'and how it may be extended (SPEC §10): for a page to offer only what will be accepted.',
      bearer: false,
      success: { status: 200, schema: schemas.OrderLimits, description: 'The limits' },
      errors: [],
      handle: async () => ({
        body: {
          maxSeatsPerOrder: limits.maxSeatsPerOrder,
          maxTicketsPerUser: limits.maxTicketsPerUser,
          maxHoldsPerUser: limits.maxHoldsPerUser,
          holdTtlMs: limits.holdTtlMs,
          holdExtensionMs: limits.holdExtensionMs,
          holdExtensions: limits.holdExtensions,
        },
      }),
    }),
    route({
      operationId: 'reserve',
      method: 'post',
      path: '/reservations',
      summary: 'Hold one seat or several',
      description:
        'Exactly one of: `seatNo` (one seat); `seatNos` (1 to `maxSeatsPerOrder` distinct seats, all held in one reservation or none: ' +
        'a taken seat is 409 `SEAT_UNAVAILABLE` with `seatNos`, the taken ones); `quantity` with optional `category` and `together` ' +
        '(best available: the engine picks the block of `quantity` consecutive free seats of one row, of that price tier, with the lowest ' +
        'first seat; `together: false` takes the lowest free seats; none qualifies: 409 `SEATS_UNAVAILABLE`). ' +
        'A user may have `maxHoldsPerUser` holds (checked first) and `maxTicketsPerUser` held plus paid seats of one date. ' +
        'The hold lasts `holdTtlMs` (5 minutes by default), then every seat of it is available again.',
      bearer: true,
      body: schemas.reserveBody(limits.maxSeatsPerOrder),
      success: { status: 201, schema: schemas.Reservation, description: 'The hold' },
      errors: [
        'VALIDATION_FAILED',
        ...needsActiveToken,
        'TOKEN_WRONG_ROOM',
        'SCHEDULE_NOT_FOUND',
        'SEAT_NOT_FOUND',
        'CATEGORY_NOT_FOUND',
        'SEAT_UNAVAILABLE',
        'SEATS_UNAVAILABLE',
        'HOLD_LIMIT_REACHED',
        'TICKET_LIMIT_REACHED',
      ],
      handle: async ({ engine, token, body }) => ({
        status: 201,
        body: await engine.reserve(token, body as ReserveRequest),
      }),
    }),
    route({
      operationId: 'extendReservation',
      method: 'post',
      path: '/reservations/:reservationId/extend',
      summary: 'Extend your hold',
      description:
        'Moves `expiresAt` `holdExtensionMs` later (2 minutes by default), at most `holdExtensions` times (once by default; ' +
        'then 409 `EXTENSION_LIMIT`). A hold no longer held is 409 `HOLD_EXPIRED`, a paid one 409 `ALREADY_PAID`.',
      bearer: true,
      params: schemas.ReservationParams,
      success: { status: 200, schema: schemas.Reservation, description: 'The extended hold' },
      errors: [
        'VALIDATION_FAILED',
        ...needsActiveToken,
        'TOKEN_WRONG_ROOM',
        'RESERVATION_NOT_FOUND',
        'HOLD_EXPIRED',
        'ALREADY_PAID',
        'EXTENSION_LIMIT',
      ],
      handle: async ({ engine, token, params }) => ({
        body: await engine.extendReservation(token, params.reservationId),
      }),
    }),
    route({
      operationId: 'listReservations',
      method: 'get',
      path: '/reservations',
      summary: 'Your holds and tickets',
      description:
        "The token's user's live holds and paid reservations, newest first (cancelled and expired ones are not listed); " +
        '`status` keeps one kind. The token need only be known, not active: a token that ended after a payment still lists its paid tickets.',
      bearer: true,
      query: schemas.ReservationListQuery,
      success: {
        status: 200,
        schema: schemas.ReservationList,
        description: 'Your held and paid reservations',
      },
      errors: ['VALIDATION_FAILED', 'TOKEN_MISSING', 'TOKEN_INVALID'],
      handle: async ({ engine, token, query }) => ({
        body: {
          reservations: await engine.listReservations(
            token,
            query.status === undefined ? {} : { status: query.status },
          ),
        },
      }),
    }),
    route({
      operationId: 'getReservation',
      method: 'get',
      path: '/reservations/:reservationId',
      summary: 'One of your reservations',
      bearer: true,
      params: schemas.ReservationParams,
      success: { status: 200, schema: schemas.Reservation, description: 'The reservation' },
      errors: [
        'VALIDATION_FAILED',
        ...needsActiveToken,
        'TOKEN_WRONG_ROOM',
        'RESERVATION_NOT_FOUND',
      ],
      handle: async ({ engine, token, params }) => ({
        body: await engine.getReservation(token, params.reservationId),
      }),
    }),
    route({
      operationId: 'cancelReservation',
      method: 'delete',
      path: '/reservations/:reservationId',
      summary: 'Release your hold',
      description: 'Cancelling a cancelled reservation answers it again.',
      bearer: true,
      params: schemas.ReservationParams,
      success: {
        status: 200,
        schema: schemas.Reservation,
        description: 'The cancelled reservation',
      },
      errors: [
        'VALIDATION_FAILED',
        ...needsActiveToken,
        'TOKEN_WRONG_ROOM',
        'RESERVATION_NOT_FOUND',
        'HOLD_EXPIRED',
        'ALREADY_PAID',
      ],
      handle: async ({ engine, token, params }) => ({
        body: await engine.cancelReservation(token, params.reservationId),
      }),
    }),
    route({
      operationId: 'pay',
      method: 'post',
      path: '/payments',
      summary: 'Pay a hold from your balance',
      description:
        'All or nothing: balance debited, seat sold, reservation paid, payment recorded. The token then expires unless you hold other seats. ' +
        'A retry with the same `Idempotency-Key` answers the first payment again, even after the token expired, ' +
        'with `Idempotent-Replayed: true`. The same key for a different request is 409 `IDEMPOTENCY_KEY_REUSED`.',
      bearer: true,
      body: schemas.PayBody,
      idempotent: true,
      success: { status: 201, schema: schemas.Payment, description: 'The payment' },
      errors: [
        'VALIDATION_FAILED',
        ...needsActiveToken,
        'TOKEN_WRONG_ROOM',
        'RESERVATION_NOT_FOUND',
        'HOLD_EXPIRED',
        'ALREADY_PAID',
        'INSUFFICIENT_BALANCE',
        'IDEMPOTENCY_KEY_REUSED',
      ],
      handle: async ({ engine, token, body, idempotencyKey }) => ({
        status: 201,
        body: await engine.pay(token, body, idempotencyKey === undefined ? {} : { idempotencyKey }),
      }),
    }),
    route({
      operationId: 'getBalance',
      method: 'get',
      path: '/users/:userId/balance',
      summary: 'Your balance',
      bearer: true,
      params: schemas.UserParams,
      success: { status: 200, schema: schemas.Wallet, description: 'The balance' },
      errors: ['VALIDATION_FAILED', ...needsActiveToken, 'FORBIDDEN'],
      handle: async ({ engine, token, params }) => ({
        body: await engine.getBalance(token, params.userId),
      }),
    }),
    route({
      operationId: 'charge',
      method: 'post',
      path: '/users/:userId/balance/charge',
      summary: 'Add money to your balance',
      description:
        'A retry with the same `Idempotency-Key` is applied once: it answers the first balance again, with `Idempotent-Replayed: true` ' +
        '(not the balance now). The same key for a different amount is 409 `IDEMPOTENCY_KEY_REUSED`.',
      bearer: true,
      params: schemas.UserParams,
      body: schemas.chargeBody(limits.maxChargeAmount),
      idempotent: true,
      success: { status: 200, schema: schemas.Wallet, description: 'The new balance' },
      errors: [
        'VALIDATION_FAILED',
        ...needsActiveToken,
        'FORBIDDEN',
        'BALANCE_LIMIT',
        'IDEMPOTENCY_KEY_REUSED',
      ],
      handle: async ({ engine, token, params, body, idempotencyKey }) => ({
        body: await engine.charge(
          token,
          { userId: params.userId, amount: body.amount },
          idempotencyKey === undefined ? {} : { idempotencyKey },
        ),
      }),
    }),
  ];
}

/**
 * The user a ticket route acts for (SPEC §11): the signed-in user with
 * `resolveUserId` (the handler has made sure there is one, and that a token
 * sent along is theirs); otherwise the owner of the bearer queue token, any
 * the engine knows (waiting, active, or kept after its payment).
 */
async function userOf(input: RouteInput<unknown, unknown>): Promise<string> {
  if (input.hostAuth && input.hostUserId !== undefined) return input.hostUserId;
  if (input.token === '')
    throw new HttpProblem(
      'TOKEN_MISSING',
      'send your queue token as Authorization: Bearer <token>',
    );
  const owner = await input.engine.tokenOwner(input.token);
  if (owner === undefined)
    throw new HttpProblem('TOKEN_INVALID', 'this queue token is unknown or expired');
  return owner;
}

/** The ticket with its code, marked as a replay (`Idempotent-Replayed`) when it is one. */
async function ticketAnswer(
  service: RouteServices,
  ticket: Ticket,
  status?: 201,
): Promise<RouteAnswer> {
  return {
    ...(status === undefined ? {} : { status }),
    ...(isReplay(ticket) ? { headers: { [REPLAYED_HEADER]: 'true' } } : {}),
    body: await service.withCode(ticket),
  };
}

/** Tickets (SPEC §11): a user's list, refunds and transfers; the operator's refund; the door's check-in. */
function ticketRoutes(service: RouteServices): Route[] {
  const user = {
    bearer: true,
    user: true,
  };
  const userErrors: ProblemCode[] = ['TOKEN_MISSING', 'TOKEN_INVALID'];
  return [
    route({
      ...user,
      operationId: 'listTickets',
      method: 'get',
      path: '/tickets',
      summary: 'Your tickets',
      description:
        'Every ticket you hold or held, newest first: `valid` (show its `code` as a QR code at the door), `checked_in`, and those ' +
        '`refunded` or `transferred` away. A paid reservation of k seats is k tickets. Your queue token need only be known ' +
        '(one kept after its payment will do); signed in, your sign-in alone is enough.',
      success: { status: 200, schema: schemas.TicketList, description: 'Your tickets' },
      errors: userErrors,
      handle: async (input) => {
        const tickets = await input.engine.listTickets(await userOf(input));
        return { body: { tickets: await Promise.all(tickets.map(service.withCode)) } };
      },
    }),
    route({
      ...user,
      operationId: 'refundTicket',
      method: 'post',
      path: '/tickets/:ticketId/refund',
      summary: 'Refund your ticket',
      description:
        'The ticket becomes `refunded` (its code is refused at the door), its price goes back to your balance and its seat is on sale again, ' +
        'all at once. Until `REFUND_CUTOFF_MS` (a day by default) before the show, then 409 `REFUND_CLOSED`; a checked-in ticket is 409 ' +
        '`ALREADY_CHECKED_IN`, a refunded or transferred one 409 `TICKET_VOID`. A retry with the same `Idempotency-Key` answers the first ' +
        'refund again with `Idempotent-Replayed: true`; the same key for another request is 409 `IDEMPOTENCY_KEY_REUSED`.',
      params: schemas.TicketParams,
      idempotent: true,
      success: { status: 200, schema: schemas.Ticket, description: 'The refunded ticket' },
      errors: [
        'VALIDATION_FAILED',
        ...userErrors,
        'TICKET_NOT_FOUND',
        'REFUND_CLOSED',
        'ALREADY_CHECKED_IN',
        'TICKET_VOID',
        'IDEMPOTENCY_KEY_REUSED',
      ],
      handle: async (input) => {
        const { params, idempotencyKey } = input as RouteInput<{ ticketId: string }, unknown>;
        const ticket = await input.engine.refundTicket(
          params.ticketId,
          { userId: await userOf(input) },
          idempotencyKey === undefined ? {} : { idempotencyKey },
        );
        return ticketAnswer(service, ticket);
      },
    }),
    route({
      ...user,
      operationId: 'transferTicket',
      method: 'post',
      path: '/tickets/:ticketId/transfer',
      summary: 'Give your ticket to someone else',
      description:
        'Your ticket becomes `transferred` and its code is refused at the door (409 `TICKET_VOID`); `toUserId` gets a new ticket of the seat, ' +
        'with a new `id` and `code` (the answer). Not once checked in (409 `ALREADY_CHECKED_IN`). `MAX_TICKETS_PER_USER` counts for the receiver ' +
        '(409 `TICKET_LIMIT_REACHED`). A retry with the same `Idempotency-Key` answers the first transfer again with `Idempotent-Replayed: true`.',
      params: schemas.TicketParams,
      body: schemas.TransferBody,
      idempotent: true,
      success: { status: 201, schema: schemas.Ticket, description: "The receiver's new ticket" },
      errors: [
        'VALIDATION_FAILED',
        ...userErrors,
        'TICKET_NOT_FOUND',
        'ALREADY_CHECKED_IN',
        'TICKET_VOID',
        'TICKET_LIMIT_REACHED',
        'IDEMPOTENCY_KEY_REUSED',
      ],
      handle: async (input) => {
        const { params, body, idempotencyKey } = input as RouteInput<
          { ticketId: string },
          { toUserId: string }
        >;
        const ticket = await input.engine.transferTicket(
          params.ticketId,
          { userId: await userOf(input), toUserId: body.toUserId },
          idempotencyKey === undefined ? {} : { idempotencyKey },
        );
        return ticketAnswer(service, ticket, 201);
      },
    }),
    ...(service.admin
      ? [
          route({
            operationId: 'refundTicketAsOperator',
            method: 'post',
            path: '/admin/tickets/:ticketId/refund',
            summary: 'Refund any unused ticket (operator)',
            description:
              "Logged (who, ticket, holder, amount). As the holder's refund, at any time (no cutoff): `refunded`, the price back to the holder's balance, the seat on sale again. " +
              'A checked-in ticket is 409 `ALREADY_CHECKED_IN`, a refunded or transferred one 409 `TICKET_VOID` (so a retry refunds nothing twice).',
            bearer: false,
            admin: true,
            params: schemas.TicketParams,
            success: { status: 200, schema: schemas.Ticket, description: 'The refunded ticket' },
            errors: [
              'ADMIN_TOKEN_INVALID',
              'RATE_LIMITED',
              'VALIDATION_FAILED',
              'TICKET_NOT_FOUND',
              'ALREADY_CHECKED_IN',
              'TICKET_VOID',
            ],
            handle: async ({ engine, params, client }) => {
              const ticket = await engine.refundTicket((params as { ticketId: string }).ticketId, {
                operator: true,
              });
              service.auditRefund?.(ticket, client);
              return ticketAnswer(service, ticket);
            },
          }),
        ]
      : []),
    ...(service.scanner
      ? [
          route({
            operationId: 'checkIn',
            method: 'post',
            path: '/checkin',
            summary: 'Check a ticket in at the door (scanner)',
            description:
              'With `Authorization: Bearer <SCANNER_TOKEN>` (wrong or missing: 401 `SCANNER_TOKEN_INVALID`; no `SCANNER_TOKEN` set: this route does not exist). ' +
              "`code` is a ticket's code (its QR code). The first scan of a valid ticket is 200; any later one 409 `ALREADY_CHECKED_IN` with the first " +
              '`checkedInAt`; of many scans at once, on any gateways, exactly one is 200. A code that does not verify is 400 `TICKET_INVALID`; a refunded ' +
              'or transferred ticket 409 `TICKET_VOID`.',
            bearer: false,
            scanner: true,
            body: schemas.CheckInBody,
            success: { status: 200, schema: schemas.CheckIn, description: 'Checked in' },
            errors: [
              'SCANNER_TOKEN_INVALID',
              'RATE_LIMITED',
              'VALIDATION_FAILED',
              'TICKET_INVALID',
              'ALREADY_CHECKED_IN',
              'TICKET_VOID',
            ],
            handle: async ({ engine, body }): Promise<RouteAnswer> => {
              const claims = await service.verifyCode((body as { code: string }).code);
              if (claims === undefined)
                throw new HttpProblem('TICKET_INVALID', 'this is not a ticket code of ours');
              const checkIn: CheckIn = await engine.checkIn(claims);
              return { body: checkIn };
            },
          }),
        ]
      : []),
  ];
}
