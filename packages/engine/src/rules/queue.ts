/**
 * Queue rules (SPEC §4, "Queue"): issuing, admission, what a token may do.
 * Pure: state + command + time in, changes + answer out, or an `EngineError`.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { delayOf, type Lifecycles } from '../machines/lifecycles.js';
import { TIMEOUT } from '../machines/compileLifecycle.js';
import type { QueueTokenState } from '../machines/queueTokenMachine.js';
import type { QueueToken } from '../types.js';
import { MAX_ID_LENGTH, requireId } from '../validate.js';
import { unchanged, type Decision, type TokenState } from './changes.js';

/** Where a waiting token stands: its rank among waiting tokens and the wait that implies. */
export interface Place {
  readonly position: number;
  readonly estimatedWaitSeconds: number;
}

export const tokenInvalid = (): EngineError => new EngineError('TOKEN_INVALID', 'the queue token is unknown or expired');

/** The token argument: `TOKEN_MISSING` unless a non-empty string; too long to be one of ours is `TOKEN_INVALID`. */
export function requireTokenArg(token: unknown): string {
  if (typeof token !== 'string' || token.length === 0) throw new EngineError('TOKEN_MISSING', 'a queue token is required');
  if (token.length > MAX_ID_LENGTH) throw tokenInvalid();
  return token;
}

/** A token's state at `now`: an active token past its deadline has expired (the machine's `after activeTtl`), whatever the timers did. */
export function statusAt(token: TokenState, now: number, lifecycles: Lifecycles): QueueTokenState {
  if (token.status === 'active' && token.expiresAt <= now) return lifecycles.token.next('active', TIMEOUT)!;
  return token.status;
}

/** Any token the engine still knows, whatever its state (`TOKEN_INVALID` for none). */
export function requireKnown(token: TokenState | undefined): TokenState {
  if (!token) throw tokenInvalid();
  return token;
}

/** A live token: waiting or active. Unknown and expired tokens are answered alike. */
export function requireLive(token: TokenState | undefined, now: number, lifecycles: Lifecycles): TokenState {
  if (!token || statusAt(token, now, lifecycles) === 'expired') throw tokenInvalid();
  return token;
}

/** An active token: a waiting one is `TOKEN_NOT_ACTIVE` with its place in line. */
export function requireActive(token: TokenState | undefined, now: number, lifecycles: Lifecycles, placeOf: (token: TokenState) => Place): TokenState {
  const live = requireLive(token, now, lifecycles);
  if (live.status === 'waiting') {
    const place = placeOf(live);
    throw new EngineError('TOKEN_NOT_ACTIVE', `you are number ${place.position} in line`, { details: place });
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

/** The room as the issue rule needs it. */
export interface IssueView {
  /** The user's waiting or active token, if any. */
  readonly live: TokenState | undefined;
  readonly waiting: number;
  readonly active: number;
}

/**
 * Issuing: the user's live token again (`created: false`), or a new token,
 * admitted at once when nobody waits and there is room under `maxActive`.
 */
export function decideIssue(
  view: IssueView,
  userId: unknown,
  now: number,
  config: EngineConfig,
  lifecycles: Lifecycles,
  fresh: { readonly token: string; readonly seq: number },
): Decision<{ token: TokenState; created: boolean }> {
  requireId(userId, 'userId');
  if (view.live) return unchanged({ token: view.live, created: false });
  const admit = view.waiting === 0 && view.active < config.queueMaxActive;
  const token: TokenState = {
    token: fresh.token,
    userId: userId as string,
    seq: fresh.seq,
    issuedAt: now,
    status: admit ? lifecycles.token.next(lifecycles.token.initial, 'ADMIT')! : lifecycles.token.initial,
    expiresAt: admit ? now + delayOf(lifecycles.token, 'active') : 0,
  };
  return { changes: [{ type: 'tokenIssued', token }], answer: { token, created: true } };
}

/** One scheduler tick: admit `min(admitPerTick, maxActive − active)` waiting tokens, first come first served. */
export function decideAdmit(view: { readonly waiting: number; readonly active: number }, now: number, config: EngineConfig, lifecycles: Lifecycles): Decision<number> {
  const count = Math.max(0, Math.min(config.queueAdmitPerTick, config.queueMaxActive - view.active, view.waiting));
  if (count === 0) return unchanged(0);
  return { changes: [{ type: 'tokensAdmitted', count, expiresAt: now + delayOf(lifecycles.token, 'active') }], answer: count };
}

/** A waiting token not polled for `waitingTtl` is abandoned. */
export function isAbandoned(lastSeenAt: number, now: number, config: EngineConfig): boolean {
  return lastSeenAt + config.queueWaitingTtlMs <= now;
}

/** The token as users see it. */
export function tokenView(token: TokenState, place: Place, lastSeenAt: number, config: EngineConfig): QueueToken {
  const expiresAt = token.status === 'waiting' ? lastSeenAt + config.queueWaitingTtlMs : token.expiresAt;
  return {
    token: token.token,
    userId: token.userId,
    status: token.status,
    position: place.position,
    estimatedWaitSeconds: place.estimatedWaitSeconds,
    issuedAt: new Date(token.issuedAt).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
  };
}
