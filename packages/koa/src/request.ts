/**
 * A route's request, handled: its guards (admin, scanner, limits, proof of work), its path, query, body
 * and `Idempotency-Key` checked, the engine called, the answer set; and the request readers it uses.
 */
import { type RouterMiddleware } from '@koa/router';
import { isReplay, userIdProblem, type UsherEngine } from '@usher/engine';
import { type Context } from 'koa';
import type * as z from 'zod';
import { CHALLENGE_HEADER } from './challenge.js';
import { clientAddress } from './clientAddress.js';
import { HttpProblem } from './errors.js';
import { actsForUser } from './identity.js';
import { REPLAYED_HEADER, type Route } from './routes.js';
import { IdempotencyKey } from './schemas.js';
import { CACHEABLE, notModified } from './caching.js';
import { rateLimited } from './tokenLimiter.js';
import type { AppOptions } from './createApp.js';

/** The checks some routes make before their handler, each present only when its feature is on. */
export interface Guards {
  /** Who sent the request (see {@link clientAddress}). */
  readonly address: (ctx: Context) => string;
  readonly admin: ((ctx: Context) => Promise<void>) | undefined;
  readonly scanner: ((ctx: Context) => Promise<void>) | undefined;
  readonly limit: ((ctx: Context) => Promise<void>) | undefined;
  readonly challenge: ((ctx: Context) => Promise<void>) | undefined;
}

export function handler(
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

export function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
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
export function header(ctx: Context, lowerCaseName: string): string {
  const value = ctx.req.headers[lowerCaseName];
  return typeof value === 'string' ? value : value === undefined ? '' : String(value);
}

/** `Authorization: Bearer <token>`; anything else counts as no token. */
export function bearerToken(ctx: Context): string {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header(ctx, 'authorization'));
  return match?.[1] ?? '';
}
