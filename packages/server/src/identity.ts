import { HttpProblem } from '@usher/koa';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Context } from 'koa';
import type { IdentityConfig } from './config.js';

/** Where a signed-in user's JWT travels: `Authorization: Bearer` is the queue token's. */
export const IDENTITY_HEADER = 'X-User-Token';
export const IDENTITY_COOKIE = 'usher_identity';

/**
 * How far the identity provider's clock may be from this one, in seconds: a
 * JWT is taken up to this long after its `exp`, and one whose `nbf` or `iat`
 * is at most this far in the future.
 */
export const CLOCK_SKEW_SECONDS = 60;

/**
 * The API's `resolveUserId` in signed-in mode: the user id is the configured
 * claim of a JWT verified with `AUTH_JWT_SECRET` (HS256) or the keys at
 * `AUTH_JWKS_URL`, read from the `X-User-Token` header or the `usher_identity`
 * cookie. No JWT: `undefined` (the API answers 401 `IDENTITY_MISSING`); one
 * that does not verify (signature, issuer, audience, claim; no `exp`, or past
 * it; `nbf` or `iat` in the future, beyond {@link CLOCK_SKEW_SECONDS}): 401
 * `IDENTITY_INVALID`. The claim's user id then keeps the user id rule, checked by
 * the API for every host (`userIdProblem`). Demo mode (no config): `undefined`,
 * the body's `userId` is taken.
 */
export function identityResolver(
  config: IdentityConfig | undefined,
): ((ctx: Context) => Promise<string | undefined>) | undefined {
  if (config === undefined) return undefined;
  const key: Uint8Array | JWTVerifyGetKey =
    config.secret !== undefined
      ? new TextEncoder().encode(config.secret)
      : createRemoteJWKSet(new URL(config.jwksUrl));
  const options = {
    // A sign-in without an expiry would be good forever.
    requiredClaims: ['exp'],
    clockTolerance: CLOCK_SKEW_SECONDS,
    ...(config.secret !== undefined ? { algorithms: ['HS256'] } : {}),
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    ...(config.audience !== undefined ? { audience: config.audience } : {}),
  };
  return async (ctx) => {
    const jwt = ctx.get(IDENTITY_HEADER).trim() || ctx.cookies.get(IDENTITY_COOKIE) || '';
    if (jwt === '') return undefined;
    let payload: Record<string, unknown>;
    try {
      // A Uint8Array or a key set: jwtVerify's overloads take either, not the union.
      ({ payload } = await jwtVerify(jwt, key as Uint8Array, options));
    } catch (error) {
      if (error instanceof errors.JWTExpired)
        throw new HttpProblem('IDENTITY_INVALID', 'your sign-in has expired: sign in again');
      // The key set could not be fetched: not the user's fault.
      if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError))
        throw new HttpProblem(
          'UNAVAILABLE',
          'the sign-in keys (AUTH_JWKS_URL) cannot be fetched now',
        );
      // A claim check says which claim failed (`missing required "exp" claim`); a signature failure says only its code.
      const why =
        error instanceof errors.JWTClaimValidationFailed
          ? `${error.code}: ${error.message}`
          : (error as errors.JOSEError).code;
      throw new HttpProblem('IDENTITY_INVALID', `your sign-in cannot be verified (${why})`);
    }
    // jose checks `iat` in the future only with a maximum age; a token issued in the future was not issued by a sane clock.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1_000 + CLOCK_SKEW_SECONDS)
      throw new HttpProblem(
        'IDENTITY_INVALID',
        'your sign-in cannot be verified (its iat is in the future)',
      );
    const userId = payload[config.userClaim];
    if (typeof userId !== 'string' || userId === '')
      throw new HttpProblem(
        'IDENTITY_INVALID',
        `your sign-in has no ${config.userClaim} claim naming the user`,
      );
    return userId;
  };
}
