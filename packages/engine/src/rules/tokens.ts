/**
 * What a queue token may do (SPEC §4, "Queue"): known, live, active, of the route's room; its
 * status at an instant. Pure, as every rule.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { type Lifecycles } from '../machines/lifecycles.js';
import { TIMEOUT } from '../machines/compileLifecycle.js';
import type { QueueTokenState } from '../machines/queueTokenMachine.js';
import { MAX_ID_LENGTH } from '../validate.js';
import { type TokenState } from './changes.js';
import { DEFAULT_ROOM } from './room.js';
import type { Place } from './queue.js';

export const tokenInvalid = (): EngineError =>
  new EngineError('TOKEN_INVALID', 'the queue token is unknown or expired');

/** The token argument: `TOKEN_MISSING` unless a non-empty string; too long to be one of ours is `TOKEN_INVALID`. */
export function requireTokenArg(token: unknown): string {
  if (typeof token !== 'string' || token.length === 0)
    throw new EngineError('TOKEN_MISSING', 'a queue token is required');
  if (token.length > MAX_ID_LENGTH) throw tokenInvalid();
  return token;
}

/** A token's state at `now`: an active token past its deadline has expired (the machine's `after activeTtl`), whatever the timers did. */
export function statusAt(token: TokenState, now: number, lifecycles: Lifecycles): QueueTokenState {
  if (token.status === 'active' && token.expiresAt <= now)
    return lifecycles.token.next('active', TIMEOUT)!;
  return token.status;
}

/** Any token the engine still knows, whatever its state (`TOKEN_INVALID` for none). */
export function requireKnown(token: TokenState | undefined): TokenState {
  if (!token) throw tokenInvalid();
  return token;
}

/**
 * Until when a token that ended for a reason the user must learn (after a
 * payment, for replays of idempotent requests; sold out, to be answered so) is
 * kept: as long as idempotency keys, from its end at `now`.
 */
export function keptUntil(now: number, config: Pick<EngineConfig, 'idempotencyTtlMs'>): number {
  return now + config.idempotencyTtlMs;
}

/**
 * A token a poll answers: a live one (waiting or active), or one that ended
 * for a reason (`sold_out`), which keeps saying why until it is forgotten.
 * Unknown tokens and tokens that ended otherwise are answered alike: `TOKEN_INVALID`.
 */
export function requireReadable(
  token: TokenState | undefined,
  now: number,
  lifecycles: Lifecycles,
): TokenState {
  if (token?.status === 'expired' && token.reason !== undefined) return token;
  return requireLive(token, now, lifecycles);
}

/** A live token: waiting or active. Unknown and expired tokens are answered alike. */
export function requireLive(
  token: TokenState | undefined,
  now: number,
  lifecycles: Lifecycles,
): TokenState {
  if (!token || statusAt(token, now, lifecycles) === 'expired') throw tokenInvalid();
  return token;
}

/** An active token: a waiting one is `TOKEN_NOT_ACTIVE` with its place in line. */
export function requireActive(
  token: TokenState | undefined,
  now: number,
  lifecycles: Lifecycles,
  placeOf: (token: TokenState) => Place,
): TokenState {
  const live = requireLive(token, now, lifecycles);
  if (live.status === 'waiting') {
    const { position, estimatedWaitSeconds, opensAt } = placeOf(live);
    const message =
      position === null
        ? `the sale opens at ${new Date(opensAt ?? 0).toISOString()}; places in line are drawn then`
        : `you are number ${position} in line`;
    throw new EngineError('TOKEN_NOT_ACTIVE', message, {
      details: { position, estimatedWaitSeconds },
    });
  }
  return live;
}

/** The token a command carries, as looked up by the engine, and how to rank it if it waits. */
export interface TokenFacts {
  /**
   * The token argument as the caller gave it. The rules check it
   * (`TOKEN_MISSING`) at its place among the command's checks; an engine that
   * looked nothing up for a malformed one passes `token: undefined`.
   */
  readonly arg: unknown;
  /** The token, or `undefined` when the engine does not know it. */
  readonly token: TokenState | undefined;
  readonly placeOf: (token: TokenState) => Place;
}

/** The command's token, known to the engine in any state (a kept, expired one still identifies its user). */
export function knownUser(facts: TokenFacts): TokenState {
  requireTokenArg(facts.arg);
  return requireKnown(facts.token);
}

/** The command's token, which must be active. */
export function activeUser(facts: TokenFacts, now: number, lifecycles: Lifecycles): TokenState {
  requireTokenArg(facts.arg);
  return requireActive(facts.token, now, lifecycles, facts.placeOf);
}

/**
 * A live token of another room than the route's (SPEC §12): `TOKEN_WRONG_ROOM`.
 * `room` is the room of what the route names (a concert's, a schedule's or a
 * reservation's); `undefined` (nothing found) checks nothing, nor does a token
 * that is unknown or has ended (the route's own checks answer those).
 */
export function requireTokenRoom(
  token: TokenState | undefined,
  room: string | undefined,
  now: number,
  lifecycles: Lifecycles,
): void {
  if (token === undefined || room === undefined) return;
  if (statusAt(token, now, lifecycles) === 'expired') return;
  const own = token.room ?? DEFAULT_ROOM;
  if (own !== room)
    throw new EngineError(
      'TOKEN_WRONG_ROOM',
      `this token is for room "${own}"; join room "${room}" for this concert`,
    );
}
