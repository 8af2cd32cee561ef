import { createHash, timingSafeEqual } from 'node:crypto';
import Router, { type RouterMiddleware } from '@koa/router';
import {
  isReplay,
  userIdProblem,
  type Room,
  type RoomChange,
  type RoomSettings,
  type UsherEngine,
} from '@usher/engine';
import Koa, { type Context } from 'koa';
import bodyParser from 'koa-bodyparser';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type * as z from 'zod';
import { SigningKeys, verifyTicketCode, withCode, withPass } from '@usher/engine/signing';
import { CHALLENGE_HEADER, ProofOfWork, type ChallengeOptions } from './challenge.js';
import { clientAddress } from './clientAddress.js';
import { HttpProblem, problems } from './errors.js';
import { actsForUser } from './identity.js';
import { openApiDocument, type DocumentInfo } from './openapi.js';
import { apiRoutes, REPLAYED_HEADER, type Route, type RouteInput } from './routes.js';
import { IdempotencyKey } from './schemas.js';
import { Telemetry } from './telemetry.js';
import { CACHEABLE, notModified } from './caching.js';
import { TokenEventStreams } from './tokenEvents.js';
import { dispatch } from './dispatch.js';
import { clientKey, rateLimited, spendTokenRequest, type TokenLimiter } from './tokenLimiter.js';

/** An admin token shorter than this is refused: it must not be guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
/** Wrong admin tokens an address may send in a minute by default before it is refused 429. */
export const ADMIN_GUESSES_PER_MINUTE = 10;

export interface AppOptions {
  /**
   * Take the user's identity from the host application's own authentication
   * instead of the request body. When given, `POST /queue/tokens` queues the
   * resolved user (a different `userId` in the body is 403 `FORBIDDEN`), and
   * every request carrying a queue token must come from that token's user.
   * It is asked only on those requests; `undefined` there is 401
   * `IDENTITY_MISSING`, and it may throw `new HttpProblem('IDENTITY_INVALID', why)`
   * for a sign-in it cannot verify. The id it answers keeps the user id rule of
   * a body's `userId` (`userIdProblem` of `@usher/engine`), or is 401 `IDENTITY_INVALID`.
   *
   * @example
   * ```ts
   * createApp(engine, { resolveUserId: (ctx) => ctx.state.user?.id });
   * ```
   */
  readonly resolveUserId?: (ctx: Context) => string | undefined | Promise<string | undefined>;
  /** While this is true every request is answered 503 `SHUTTING_DOWN` (graceful shutdown). */
  readonly isShuttingDown?: () => boolean;
  /** Largest JSON body; larger is 413 `PAYLOAD_TOO_LARGE`. Default `16kb`. */
  readonly bodyLimit?: string;
  /** Prefix of every problem `type`. Default `urn:usher:problem:`, giving e.g. `urn:usher:problem:seat-unavailable`. */
  readonly problemTypeBase?: string;
  /** `info` of the OpenAPI document. */
  readonly info?: DocumentInfo;
  /**
   * Where the host application mounts this app, e.g. `/tickets` with `koa-mount`: the OpenAPI
   * document's `servers` says so, so that generated clients and Swagger UI call `/tickets/concerts`.
   * The app's own routes stay where they are (the mount strips the prefix). Starts with `/`, does
   * not end with one. Default: mounted at the root, no `servers`.
   *
   * @example
   * ```ts
   * host.use(mount('/tickets', createApp(engine, { basePath: '/tickets' })));
   * ```
   */
  readonly basePath?: string;
  /**
   * Open event streams (`GET /queue/tokens/current/events`) per token; one
   * more ends the oldest, normally (a reloaded page's stream replaces the
   * stale one). Default 3.
   */
  readonly maxStreamsPerToken?: number;
  /**
   * An event stream ends normally after this long (between 90% and 100% of
   * it), and `EventSource` reconnects by itself. Default 15 min.
   */
  readonly streamMaxLifetimeMs?: number;
  /**
   * Turns on the operator's routes (`GET`/`PATCH /admin/room`) and `GET /metrics`, which then need
   * `Authorization: Bearer <adminToken>` (compared in constant time; otherwise 401 `ADMIN_TOKEN_INVALID`).
   * Unset, those routes do not exist (404). At least 16 characters.
   */
  readonly adminToken?: string | undefined;
  /**
   * Counts wrong admin tokens per client address (`points` a `duration`, the address as the token
   * limit counts it): once an address has spent them, every operator request from it is 429
   * `RATE_LIMITED` with `Retry-After` until the window passes, the right token too. Each wrong
   * token is logged at `warn`. Default: {@link ADMIN_GUESSES_PER_MINUTE} a minute, in this
   * process's memory; pass one on a shared store to count across gateways.
   */
  readonly adminGuessLimiter?: RateLimiterAbstract | undefined;
  /**
   * Turns on `POST /checkin` (SPEC §11), the door scanners' route, which then needs
   * `Authorization: Bearer <scannerToken>` (compared in constant time; otherwise 401
   * `SCANNER_TOKEN_INVALID`; wrong tokens counted per address as the admin token's are).
   * Unset, the route does not exist (404). At least 16 characters.
   */
  readonly scannerToken?: string | undefined;
  /** Counts wrong scanner tokens per client address, as `adminGuessLimiter` does admin tokens. Default: 10 a minute, in memory. */
  readonly scannerGuessLimiter?: RateLimiterAbstract | undefined;
  /** Where the access log (one line per request) and the operator's changes are written. None: not logged. */
  readonly logger?: Logger | undefined;
  /**
   * Request ids, access log and metrics. Default: a new {@link Telemetry} with `logger`. Pass one
   * to share it with a host app that runs its middleware in front of this app (see {@link Telemetry}).
   */
  readonly telemetry?: Telemetry;
  /** Limits `POST /queue/tokens` per client address (429 `RATE_LIMITED`, `Retry-After`). Default: no limit. */
  readonly tokenLimiter?: TokenLimiter | undefined;
  /** Proof of work before joining (`GET /queue/challenge`, `X-Challenge`). Default: off. */
  readonly challenge?: ChallengeOptions | undefined;
  /**
   * The keys that sign passes (SPEC §12; and ticket codes), published at
   * `GET /.well-known/jwks.json`. Every gateway of one line must be given
   * the same (`SigningKeys.open` with a shared vault: `fileKeyVault(DATA_DIR)`,
   * `postgresKeyVault(pool)`, or the operator's PEM keys). Default: keys of
   * this app's memory, new at each start: passes verify only against this
   * process's JWKS, and not after a restart.
   */
  readonly signingKeys?: SigningKeys | Promise<SigningKeys> | undefined;
  /**
   * Behind a reverse proxy: the client address is the last `X-Forwarded-For` entry (the one the
   * proxy added), for the rate limit and the logs; a hop that is not an address (see `clientAddress`)
   * counts as the connection's address, with a warning at most once a minute. Off (the default),
   * `X-Forwarded-For` is ignored: anyone could write it. Sets `app.proxy`; a host app that mounts this one must set its own.
   */
  readonly trustProxy?: boolean;
}

/**
 * The usher REST API (SPEC §6) as a Koa app over `engine`. It validates
 * requests, calls the engine and maps its errors to RFC 9457 problem details;
 * it never listens. Unexpected errors are answered as a bare 500 and emitted
 * as the app's `error` event: log them with `app.on('error', ...)`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createEngine } from '@usher/engine';
 * import { createApp } from '@usher/koa';
 *
 * const app = createApp(await createEngine());
 * app.on('error', (error) => console.error(error));
 * createServer(app.callback()).listen(3000);
 * ```
 */
export function createApp(engine: UsherEngine, options: AppOptions = {}): Koa {
  const isShuttingDown = options.isShuttingDown ?? (() => false);
  const info = options.info ?? {
    title: 'usher',
    version: '0.1.0',
    description: 'Concert seat sales under contention.',
  };
  if (options.basePath !== undefined && !/^(\/[^/?#\s]+)+$/.test(options.basePath)) {
    throw new TypeError(
      `basePath must start with / and not end with one, e.g. /tickets (got ${JSON.stringify(options.basePath)})`,
    );
  }
  if (options.adminToken !== undefined && options.adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new TypeError(`adminToken must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }
  if (options.scannerToken !== undefined && options.scannerToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new TypeError(`scannerToken must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }
  const telemetry = options.telemetry ?? new Telemetry({ logger: options.logger });
  const logger = options.logger ?? telemetry.logger;
  let document: unknown;
  const events = new TokenEventStreams(isShuttingDown, {
    maxPerToken: options.maxStreamsPerToken,
    maxLifetimeMs: options.streamMaxLifetimeMs,
  });
  const admin = options.adminToken !== undefined;
  if (admin) {
    telemetry.enableProcessMetrics();
    telemetry.watchEngine(engine, events);
  }
  const challenge =
    options.challenge === undefined
      ? undefined
      : new ProofOfWork(
          options.challenge,
          (id, expiresAt) => engine.spendChallenge(id, expiresAt),
          telemetry,
        );
  const limiter =
    options.tokenLimiter !== undefined && options.tokenLimiter.length > 0
      ? options.tokenLimiter
      : undefined;
  let keys: Promise<SigningKeys> | undefined;
  const signingKeys = (): Promise<SigningKeys> =>
    (keys ??= Promise.resolve(options.signingKeys ?? SigningKeys.open()));
  const routes = apiRoutes(engine.config, {
    document: () => (document ??= openApiDocument(routes, info, options.basePath)),
    events,
    telemetry,
    admin,
    rateLimited: limiter !== undefined,
    challenge,
    withPass: async (token) =>
      token.status === 'active' ? withPass(await signingKeys(), token) : token,
    jwks: async () => (await signingKeys()).jwks(),
    scanner: options.scannerToken !== undefined,
    withCode: async (ticket) => withCode(await signingKeys(), ticket),
    verifyCode: async (code) => verifyTicketCode(await signingKeys(), code),
    audit: (change, patch, client) =>
      logger?.info(
        auditEntry(change, patch, client),
        `room${change.room.id === undefined ? '' : ` "${change.room.id}"`} changed by the admin token: ${describeChange(change, patch)}`,
      ),
    auditRefund: (ticket, client) =>
      logger?.info(
        {
          audit: 'refund',
          who: 'admin token',
          requestId: client.requestId,
          address: client.address,
          ticket: ticket.id,
          holder: ticket.holder,
          amount: ticket.price,
        },
        `ticket "${ticket.id}" of ${ticket.holder} refunded (${ticket.price}) by the admin token`,
      ),
    auditCodes: (roomId, count, client) =>
      logger?.info(
        {
          audit: 'codes',
          who: 'admin token',
          requestId: client.requestId,
          address: client.address,
          room: roomId,
          count,
        },
        `${count} presale codes created for room "${roomId}" by the admin token`,
      ),
  });
  const trustProxy = options.trustProxy ?? false;
  const client = (ctx: Context): string =>
    (ctx.state.clientAddress ??= clientAddress(ctx, trustProxy, (hop) =>
      telemetry.unparsedForwardedFor(hop),
    )) as string;
  const guards: Guards = {
    address: client,
    admin:
      options.adminToken === undefined
        ? undefined
        : adminCheck(
            options.adminToken,
            options.adminGuessLimiter ??
              new RateLimiterMemory({
                keyPrefix: 'admin_guesses',
                points: ADMIN_GUESSES_PER_MINUTE,
                duration: 60,
              }),
            client,
            logger,
          ),
    scanner:
      options.scannerToken === undefined
        ? undefined
        : secretCheck(
            options.scannerToken,
            options.scannerGuessLimiter ??
              new RateLimiterMemory({
                keyPrefix: 'scanner_guesses',
                points: ADMIN_GUESSES_PER_MINUTE,
                duration: 60,
              }),
            client,
            logger,
            SCANNER_SECRET,
          ),
    limit:
      limiter === undefined
        ? undefined
        : (ctx) => spendTokenRequest(limiter, client(ctx), telemetry),
    challenge:
      challenge === undefined ? undefined : (ctx) => challenge.spend(ctx.get(CHALLENGE_HEADER)),
  };
  const router = new Router();
  for (const route of routes)
    router[route.method](route.operationId, route.path, handler(engine, route, options, guards));
  const allowed = allowedMethods(router, routes);

  const app = new Koa();
  app.proxy = trustProxy;
  app.maxIpsCount = 1;
  app.use(telemetry.middleware());
  app.use(problems(options.problemTypeBase ?? 'urn:usher:problem:'));
  const parseBody = bodyParser({
    enableTypes: ['json'],
    jsonLimit: options.bodyLimit ?? '16kb',
    strict: true,
    // A body that cannot be decoded (a wrong Content-Encoding, say) is the client's error, not a fault: keep
    // the parser's own 4xx (413, 415, malformed JSON), make anything else a 400.
    onerror: (error: Error & { status?: number }) => {
      if (error.status !== undefined && error.status >= 400 && error.status < 500) throw error;
      throw new HttpProblem(
        'VALIDATION_FAILED',
        'the body could not be read: check its Content-Encoding and Content-Type',
      );
    },
  });
  // The router answers HEAD for every GET; only the routes that declare it do (the probes).
  const headCheck = (ctx: Context, next: () => Promise<unknown>): Promise<unknown> => {
    if (ctx.method === 'HEAD' && !allowed(ctx.path).includes('HEAD')) notAllowed(ctx, allowed);
    return next();
  };
  // What every request meets before its route, in this order, as one plain function returning next()
  // (no async frame, no extra promise, one step of the middleware chain instead of three): the engine's
  // health and shutdown, `Cache-Control`, the body, the HEAD check.
  app.use((ctx, next) => {
    // A failed engine refuses everything until the process is restarted; say so rather than "shutting down".
    if (engine.health.status === 'failed')
      throw new HttpProblem(
        'UNAVAILABLE',
        'the service failed and must be restarted; try again shortly',
      );
    if (isShuttingDown()) throw new HttpProblem('SHUTTING_DOWN', 'the server is shutting down');
    ctx.res.setHeader('Cache-Control', 'no-store');
    // A request with neither Content-Length nor Transfer-Encoding has no body: the parser would find
    // none (and leave `{}`), so it is not run at all.
    const { headers } = ctx.req;
    if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
      (ctx.request as { body?: unknown }).body ??= {};
      return headCheck(ctx, next);
    }
    return parseBody(ctx, () => headCheck(ctx, next) as Promise<void>);
  });
  // The routes: the router's, dispatched by method (see dispatch).
  app.use(dispatch(router));
  app.use((ctx) => {
    if (allowed(ctx.path).length === 0)
      throw new HttpProblem('NOT_FOUND', `there is no ${ctx.path}`);
    notAllowed(ctx, allowed);
  });
  return app;
}

/** The checks some routes make before their handler, each present only when its feature is on. */
interface Guards {
  /** Who sent the request (see {@link clientAddress}). */
  readonly address: (ctx: Context) => string;
  readonly admin: ((ctx: Context) => Promise<void>) | undefined;
  readonly scanner: ((ctx: Context) => Promise<void>) | undefined;
  readonly limit: ((ctx: Context) => Promise<void>) | undefined;
  readonly challenge: ((ctx: Context) => Promise<void>) | undefined;
}

function handler(
  engine: UsherEngine,
  route: Route,
  options: AppOptions,
  guards: Guards,
): RouterMiddleware {
  const hostAuth = options.resolveUserId !== undefined;
  return async (ctx) => {
    // Who may ask, and how often, before anything of the request is read.
    if (route.admin) await guards.admin!(ctx);
    if (route.scanner) await guards.scanner!(ctx);
    // A join with no solution at all is refused before it counts against the limit: a client learns
    // that proof of work is on by trying without (the page does), and that try costs it nothing.
    if (route.challenged && ctx.get(CHALLENGE_HEADER) === '') await guards.challenge!(ctx);
    if (route.rateLimited) await guards.limit!(ctx);
    const params = route.params ? validate(route.params, ctx.params, 'path') : undefined;
    const query = route.query ? validate(route.query, ctx.query, 'query') : undefined;
    // The body parser leaves `rawBody` unset for anything but JSON.
    if (route.body && hasBody(ctx) && (ctx.request as { rawBody?: string }).rawBody === undefined) {
      throw new HttpProblem(
        'VALIDATION_FAILED',
        'send the body as JSON (Content-Type: application/json)',
      );
    }
    const body = route.body ? validate(route.body, ctx.request.body ?? {}, 'body') : undefined;
    // A request that takes no body refuses one that says something: a field it would silently ignore.
    if (!route.body && hasBody(ctx) && !isEmptyBody(ctx.request.body))
      throw new HttpProblem('VALIDATION_FAILED', 'this request takes no body (send none, or {})');
    const rawKey = route.idempotent ? header(ctx, 'idempotency-key') : '';
    const idempotencyKey =
      rawKey !== '' ? validate(IdempotencyKey, rawKey, 'header.Idempotency-Key') : undefined;
    // The proof of work is spent only by a request that is otherwise valid.
    if (route.challenged) await guards.challenge!(ctx);
    const token = route.bearer
      ? bearerToken(ctx) ||
        (route.queryToken && typeof ctx.query.access_token === 'string'
          ? ctx.query.access_token
          : '')
      : '';
    const identify = hostAuth && actsForUser(route, token);
    const hostUserId = identify ? await options.resolveUserId!(ctx) : undefined;
    if (identify && hostUserId === undefined)
      throw new HttpProblem('IDENTITY_MISSING', 'sign in first: this request acts for a user');
    // The host's user id keeps the rule a body's userId keeps: one user id rule for every source.
    const hostIdProblem = identify ? userIdProblem(hostUserId) : undefined;
    if (hostIdProblem !== undefined)
      throw new HttpProblem('IDENTITY_INVALID', `the signed-in user id ${hostIdProblem}`);
    if (hostAuth && route.bearer && token !== '') {
      const owner = await engine.tokenOwner(token);
      if (owner !== undefined && owner !== hostUserId)
        throw new HttpProblem('FORBIDDEN', 'this queue token belongs to another user');
    }
    // The address is read only by what needs it (the operator's audit log).
    const client = {
      requestId: String(ctx.state.requestId ?? ''),
      get address() {
        return guards.address(ctx);
      },
    };
    const answer = await route.handle({
      engine,
      params,
      query,
      body,
      token,
      idempotencyKey,
      hostUserId,
      hostAuth,
      client,
    });
    ctx.status = answer.status ?? route.success.status;
    if (answer.headers !== undefined) ctx.set(answer.headers);
    // A retry answered with the first request's stored answer says so (as Stripe's API does).
    if (route.idempotent && 'body' in answer && isReplay(answer.body))
      ctx.set(REPLAYED_HEADER, 'true');
    if ('json' in answer) {
      if (answer.etag !== undefined) {
        // A list anyone may read the same: cacheable briefly, and 304 to a client that has this one.
        ctx.set('ETag', answer.etag);
        ctx.set('Cache-Control', CACHEABLE);
        if (notModified(header(ctx, 'if-none-match'), answer.etag)) {
          ctx.status = 304;
          return;
        }
      }
      // What `ctx.type = 'application/json'` sets, without its look-up of the type.
      ctx.set('Content-Type', 'application/json; charset=utf-8');
      ctx.body = answer.json;
    } else if ('events' in answer) {
      ctx.type = 'text/event-stream';
      ctx.set('X-Accel-Buffering', 'no');
      ctx.req.socket.setNoDelay(true);
      ctx.body = answer.events;
    } else if ('text' in answer) {
      ctx.type = answer.type;
      ctx.body = answer.text;
    } else ctx.body = answer.body;
  };
}

/**
 * `Authorization: Bearer <adminToken>` or 401 `ADMIN_TOKEN_INVALID`. The
 * SHA-256 digests of both are compared with `timingSafeEqual`: equal lengths
 * whatever was sent, and no early exit, so timing tells nothing of the token.
 * Wrong tokens are counted per address by `guesses` and logged at `warn`; an
 * address that spent its guesses is 429 `RATE_LIMITED`, before any compare. A
 * request with no token at all guesses nothing and is not counted. A store
 * that cannot count does not lock the operator out.
 */
function adminCheck(
  adminToken: string,
  guesses: RateLimiterAbstract,
  address: (ctx: Context) => string,
  logger: Logger | undefined,
): (ctx: Context) => Promise<void> {
  return secretCheck(adminToken, guesses, address, logger, ADMIN_SECRET);
}

/** How a bearer secret's check names it: its problem code, its variable, the audit label. */
interface SecretKind {
  readonly code: 'ADMIN_TOKEN_INVALID' | 'SCANNER_TOKEN_INVALID';
  readonly variable: string;
  readonly audit: string;
  readonly name: string;
}
const ADMIN_SECRET: SecretKind = {
  code: 'ADMIN_TOKEN_INVALID',
  variable: 'ADMIN_TOKEN',
  audit: 'admin',
  name: 'admin token',
};
const SCANNER_SECRET: SecretKind = {
  code: 'SCANNER_TOKEN_INVALID',
  variable: 'SCANNER_TOKEN',
  audit: 'scanner',
  name: 'scanner token',
};

/** {@link adminCheck} for any bearer secret (the admin token, the scanner token, SPEC §11). */
function secretCheck(
  secret: string,
  guesses: RateLimiterAbstract,
  address: (ctx: Context) => string,
  logger: Logger | undefined,
  kind: SecretKind,
): (ctx: Context) => Promise<void> {
  const expected = createHash('sha256').update(secret).digest();
  return async (ctx) => {
    const key = clientKey(address(ctx));
    const spent = await guesses.get(key).catch(() => null);
    if (spent !== null && spent.consumedPoints >= guesses.points)
      throw rateLimited(`too many wrong ${kind.name}s from your address`, spent.msBeforeNext);
    const given = bearerToken(ctx);
    const digest = createHash('sha256').update(given).digest();
    if (timingSafeEqual(digest, expected) && given !== '') return;
    if (given !== '') {
      logger?.warn(
        { audit: kind.audit, requestId: ctx.state.requestId, address: address(ctx) },
        `a wrong ${kind.name}`,
      );
      const over = await guesses.consume(key).then(
        () => undefined,
        (error: unknown) => (error instanceof RateLimiterRes ? error : undefined),
      );
      if (over !== undefined)
        throw rateLimited(`too many wrong ${kind.name}s from your address`, over.msBeforeNext);
    }
    throw new HttpProblem(
      kind.code,
      given === ''
        ? `send the ${kind.name} as Authorization: Bearer <${kind.variable}>`
        : `the ${kind.name} is wrong`,
    );
  };
}

const settingNames = [
  'paused',
  'admitPerTick',
  'maxActive',
  'opensAt',
  'shuffle',
] as const satisfies readonly (keyof RoomSettings)[];
const settingsOf = (room: Room): RoomSettings =>
  Object.fromEntries(settingNames.map((name) => [name, room[name]])) as unknown as RoomSettings;

/** The audit log's fields: who (the admin token, from which request and address), what was asked, before and after. */
function auditEntry(
  change: RoomChange,
  patch: Partial<RoomSettings>,
  client: RouteInput<unknown, unknown>['client'],
): Record<string, unknown> {
  return {
    audit: 'room',
    ...(change.room.id === undefined ? {} : { room: change.room.id }),
    who: 'admin token',
    requestId: client.requestId,
    address: client.address,
    patch,
    before: settingsOf(change.before),
    after: settingsOf(change.room),
  };
}

/** `paused false → true; maxActive 1000 → 200`: each setting asked for, before and after. */
function describeChange(change: RoomChange, patch: Partial<RoomSettings>): string {
  const names = settingNames.filter((name) => name in patch);
  return names
    .map(
      (name) =>
        `${name} ${JSON.stringify(change.before[name])} → ${JSON.stringify(change.room[name])}`,
    )
    .join('; ');
}

function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    path: [where, ...issue.path].join('.'),
    message: issue.message,
  }));
  throw new HttpProblem('VALIDATION_FAILED', `${errors[0]!.path}: ${errors[0]!.message}`, {
    extra: { errors },
  });
}

/** A parsed request body that says nothing: none, or `{}`. */
function isEmptyBody(body: unknown): boolean {
  if (body === undefined || body === null) return true;
  if (typeof body !== 'object' || Array.isArray(body)) return false;
  for (const _ in body) return false;
  return true;
}

function hasBody(ctx: Context): boolean {
  return header(ctx, 'transfer-encoding') !== '' || Number(header(ctx, 'content-length') || 0) > 0;
}

/**
 * A request header as `ctx.get` reads it (`''` when absent), by its lower-case name: `ctx.get` lower-cases
 * the name on every call, and a name made at run time is looked up in V8's string table before the
 * headers object can be read with it.
 */
function header(ctx: Context, lowerCaseName: string): string {
  const value = ctx.req.headers[lowerCaseName];
  return typeof value === 'string' ? value : value === undefined ? '' : String(value);
}

/** `Authorization: Bearer <token>`; anything else counts as no token. */
function bearerToken(ctx: Context): string {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header(ctx, 'authorization'));
  return match?.[1] ?? '';
}

/**
 * The methods a path takes, as the OpenAPI document declares them: those of its routes, and
 * `HEAD` only where a route says so. Nothing else is answered as a route, `OPTIONS` included
 * (a cross-origin preflight is for the host to answer: the server does, with `@koa/cors`).
 */
function allowedMethods(router: Router, routes: readonly Route[]): (path: string) => string[] {
  const withHead = new Set(routes.filter((route) => route.head).map((route) => route.path));
  return (path) => [
    ...new Set(
      router
        .match(path, 'GET')
        .path.flatMap((layer) =>
          layer.methods.filter((method) => method !== 'HEAD' || withHead.has(String(layer.path))),
        ),
    ),
  ];
}

/** 405 with the path's declared methods in `Allow`. */
function notAllowed(ctx: Context, allowed: (path: string) => string[]): never {
  throw new HttpProblem('METHOD_NOT_ALLOWED', `${ctx.path} does not take ${ctx.method}`, {
    headers: { Allow: allowed(ctx.path).join(', ') },
  });
}
