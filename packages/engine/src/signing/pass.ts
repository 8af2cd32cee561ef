import { createHash } from 'node:crypto';
import type { QueueToken } from '../types.js';
import type { SigningKeys } from './keys.js';

/** The room of tokens issued without one (SPEC §12). */
export const DEFAULT_ROOM = 'default';

/**
 * The claims of a pass (SPEC §12): `sub` the user, `room` the waiting room
 * that admitted them, `jti` the admission (a digest of the token: the same
 * for every pass of one token, and it does not give the token away), `iat`
 * and `exp` in seconds, `exp` the token's `expiresAt`.
 */
export interface PassClaims {
  readonly sub: string;
  readonly room: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

/**
 * The room a token was issued for: rooms (SPEC §12) add it to the token;
 * until they do, and for tokens without one, `default`. The one place a
 * pass's `room` comes from.
 */
export function roomOf(token: QueueToken): string {
  const room =
    (token as { readonly room?: unknown; readonly roomId?: unknown }).room ??
    (token as { readonly roomId?: unknown }).roomId;
  return typeof room === 'string' && room !== '' ? room : DEFAULT_ROOM;
}

/** The claims of an active token's pass, signed at `now` (epoch ms). */
export function passClaims(token: QueueToken, now: number): PassClaims {
  return {
    sub: token.userId,
    room: roomOf(token),
    jti: createHash('sha256').update(`usher-pass:${token.token}`).digest('base64url').slice(0, 22),
    iat: Math.floor(now / 1000),
    exp: Math.floor(Date.parse(token.expiresAt) / 1000),
  };
}

/**
 * The token with its pass when it is active (SPEC §12); any other token as
 * it is. The pass is a compact JWS by the `pass` key of `keys`.
 */
export async function withPass<T extends QueueToken>(
  keys: SigningKeys,
  token: T,
  now: number = Date.now(),
): Promise<T & { readonly pass?: string }> {
  if (token.status !== 'active') return token;
  return { ...token, pass: await keys.sign('pass', { ...passClaims(token, now) }) };
}
