import Router from '@koa/router';
import {
  userIdProblem,
  type Room,
  type RoomChange,
  type RoomSettings,
  type UsherEngine,
} from '@usher/engine';
import Koa, { type Context } from 'koa';
import bodyParser from 'koa-bodyparser';
import type { Logger } from 'pino';
import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { SigningKeys, verifyTicketCode, withCode, withPass } from '@usher/engine/signing';
import { CHALLENGE_HEADER, ProofOfWork, type ChallengeOptions } from './challenge.js';
import { clientAddress } from './clientAddress.js';
import { HttpProblem, problems } from './errors.js';
import { openApiDocument, type DocumentInfo } from './openapi.js';
import { apiRoutes, type Route, type RouteInput } from './routes.js';
import { Telemetry } from './telemetry.js';
import { TokenEventStreams } from './tokenEvents.js';
import { allowedMethods, dispatch, notAllowed } from './dispatch.js';
import { rateLimited, spendTokenRequest, type TokenLimiter } from './tokenLimiter.js';
import { handler, type Guards } from './request.js';
import { adminCheck, secretCheck, SCANNER_SECRET } from './secrets.js';

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
