/** The bearer secrets of operators and door scanners: compared in constant time, wrong guesses limited and logged. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type Context } from 'koa';
import type { Logger } from 'pino';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { HttpProblem } from './errors.js';
import { clientKey, rateLimited } from './tokenLimiter.js';
import { bearerToken } from './request.js';

/**
 * `Authorization: Bearer <adminToken>` or 401 `ADMIN_TOKEN_INVALID`. The
 * SHA-256 digests of both are compared with `timingSafeEqual`: equal lengths
 * whatever was sent, and no early exit, so timing tells nothing of the token.
 * Wrong tokens are counted per address by `guesses` and logged at `warn`; an
 * address that spent its guesses is 429 `RATE_LIMITED`, before any compare
 * (each guess is counted before it is compared, and given back when right, so a
 * burst sent at once is compared no further than the allowance either). A
 * request with no token at all guesses nothing and is not counted. A store
 * that cannot count does not lock the operator out.
 */
export function adminCheck(
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
export const SCANNER_SECRET: SecretKind = {
  code: 'SCANNER_TOKEN_INVALID',
  variable: 'SCANNER_TOKEN',
  audit: 'scanner',
  name: 'scanner token',
};

/** {@link adminCheck} for any bearer secret (the admin token, the scanner token, SPEC §11). */
export function secretCheck(
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
    if (given !== '') {
      // A guess is counted BEFORE it is compared (and given back when right): of guesses sent
      // at once, before the store has counted the first, no more than the allowance are
      // compared (counted after, a burst was compared whole).
      const over = await guesses.consume(key).then(
        () => undefined,
        (error: unknown) => (error instanceof RateLimiterRes ? error : undefined),
      );
      if (over !== undefined)
        throw rateLimited(`too many wrong ${kind.name}s from your address`, over.msBeforeNext);
      const digest = createHash('sha256').update(given).digest();
      if (timingSafeEqual(digest, expected)) {
        await guesses.reward(key).catch(() => undefined);
        return;
      }
      logger?.warn(
        { audit: kind.audit, requestId: ctx.state.requestId, address: address(ctx) },
        `a wrong ${kind.name}`,
      );
    }
    throw new HttpProblem(
      kind.code,
      given === ''
        ? `send the ${kind.name} as Authorization: Bearer <${kind.variable}>`
        : `the ${kind.name} is wrong`,
    );
  };
}
