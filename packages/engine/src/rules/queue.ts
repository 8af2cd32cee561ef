/**
 * Queue rules (SPEC §4, "Queue"): issuing, admission, what a token may do.
 * Pure: state + command + time in, changes + answer out, or an `EngineError`.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { delayOf, type Lifecycles } from '../machines/lifecycles.js';
import { TIMEOUT } from '../machines/compileLifecycle.js';
import type { QueueTokenState } from '../machines/queueTokenMachine.js';
import type { QueueToken, TokenEndReason } from '../types.js';
import { MAX_ID_LENGTH, requireUserId } from '../validate.js';
import { unchanged, type Decision, type StateChange, type TokenState } from './changes.js';
import { codeInvalid, type CodeFacts } from './codes.js';
import {
  DEFAULT_ROOM,
  isAdmitting,
  isOpeningDue,
  isSoldOut,
  type OpeningRange,
  type RoomState,
  type Stock,
} from './room.js';

/**
 * Where a waiting token stands: its rank among waiting tokens and the wait
 * that implies; before the room opens, no rank (`null`) and when it opens.
 */
export interface Place {
  readonly position: number | null;
  readonly estimatedWaitSeconds: number;
  /** Before the opening: `opensAt` (epoch ms). */
  readonly opensAt?: number;
}

/** Wait estimates from the admission rate (see `AdmissionRate`). */
export interface WaitEstimate {
  secondsFor(position: number): number;
}

/**
 * A waiting token's place before the room opens: no rank yet, and the wait
 * is the time until the opening plus that of the middle of the `waiting`
 * crowd (where a random draw puts a token on average).
 */
export function placeBeforeOpening(
  room: RoomState,
  now: number,
  waiting: number,
  rate: WaitEstimate,
): Place {
  const opensAt = room.opensAt ?? now;
  const untilOpening = Math.max(0, Math.ceil((opensAt - now) / 1000));
  return {
    position: null,
    estimatedWaitSeconds: untilOpening + rate.secondsFor(Math.ceil(Math.max(1, waiting) / 2)),
    opensAt,
  };
}

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

/** The room as the issue rule needs it. */
export interface IssueView {
  /** The user's waiting or active token, if any. */
  readonly live: TokenState | undefined;
  readonly waiting: number;
  readonly active: number;
  readonly room: RoomState;
  /** The room's id (SPEC §12); absent: the default room. */
  readonly roomId?: string;
  /** The presale code given with the join, as the engine found it (absent: none given). */
  readonly code?: CodeFacts | undefined;
}

/** What issuing answers: the token, whether it is new, and why it ended if it was born ended. */
export interface Issued {
  readonly token: TokenState;
  readonly created: boolean;
  /** Set when the token is issued already expired (nothing left to sell): it is not stored. */
  readonly reason?: TokenEndReason;
}

/**
 * Issuing: the user's live token again (`created: false`), or a new token,
 * admitted at once when the room admits (not paused, open), nobody waits and
 * there is room under the room's `maxActive`. When the room is sold out, a
 * new token is answered already expired with `reason: "sold_out"`, and
 * nothing is stored (it is as unknown as any expired token afterwards).
 */
export function decideIssue(
  view: IssueView,
  userId: unknown,
  now: number,
  _config: EngineConfig,
  lifecycles: Lifecycles,
  fresh: { readonly token: string; readonly seq: number },
): Decision<Issued> {
  requireUserId(userId);
  // A retried join answers the user's token again; a code given with it stays unspent.
  if (view.live) return unchanged({ token: view.live, created: false });
  if (view.code && !view.code.usable) throw codeInvalid();
  const inRoom =
    view.roomId === undefined || view.roomId === DEFAULT_ROOM ? {} : { room: view.roomId };
  if (view.room.soldOut) {
    const ended: TokenState = {
      token: fresh.token,
      userId: userId as string,
      seq: fresh.seq,
      issuedAt: now,
      status: 'expired',
      expiresAt: now,
      ...inRoom,
    };
    return unchanged({ token: ended, created: true, reason: 'sold_out' });
  }
  const admit = isAdmitting(view.room) && view.waiting === 0 && view.active < view.room.maxActive;
  const token: TokenState = {
    token: fresh.token,
    userId: userId as string,
    seq: fresh.seq,
    issuedAt: now,
    status: admit
      ? lifecycles.token.next(lifecycles.token.initial, 'ADMIT')!
      : lifecycles.token.initial,
    expiresAt: admit ? now + delayOf(lifecycles.token, 'active') : 0,
    ...inRoom,
    ...(view.code ? { priority: true } : {}),
  };
  const changes: StateChange[] = [{ type: 'tokenIssued', token }];
  if (view.code)
    changes.push({
      type: 'codeSpent',
      room: view.roomId ?? DEFAULT_ROOM,
      hash: view.code.hash,
      at: now,
    });
  return { changes, answer: { token, created: true } };
}

/** What one scheduler tick looks at. */
export interface TickView {
  readonly room: RoomState;
  readonly waiting: number;
  readonly active: number;
  readonly stock: Stock;
  /** Of `waiting`, those who joined with a presale code: the head of the line (SPEC §12). */
  readonly priorityWaiting?: number;
  /**
   * When {@link isOpeningDue} (an engine reads it then, and only then): what
   * the opening draws, or `null` when nobody waiting joined before `opensAt`.
   */
  readonly opening?: OpeningRange | null;
}

/** What a tick did. */
export interface TickOutcome {
  readonly admitted: number;
  /** Waiting tokens ended because nothing is left to sell. */
  readonly soldOut: number;
  /** This tick performed the opening. */
  readonly opened: boolean;
  /** People waited and the room admitted (not paused, open): what the admission rate learns from. */
  readonly observed: boolean;
}

/**
 * One scheduler tick of one room, after what was due expired (every room
 * ticks alike, each with its own view):
 * 1. sold out (see `isSoldOut`): every waiting token expires (`SOLD_OUT`);
 * 2. an opening that is due draws the places of `view.opening` with a fresh
 *    seed (`shuffle: false` keeps join order: no draw), kept in the room;
 * 3. unless paused or still waiting for the opening, admits
 *    `min(admitPerTick, maxActive − active)` waiting tokens, first in line first
 *    (in the drawn order; none while `active ≥ maxActive`: lowering `maxActive`
 *    throws nobody out). Those who joined with a presale code stand first
 *    (`priorityWaiting` of `waiting`), in the order they joined, outside any
 *    draw; before the opening (not paused) they alone are admitted, by the
 *    same count.
 * `newSeed()` must come from a cryptographic source (`newDrawSeed`).
 */
export function decideTick(
  view: TickView,
  now: number,
  lifecycles: Lifecycles,
  newSeed: () => string,
): Decision<TickOutcome> {
  const changes: StateChange[] = [];
  let room = view.room;
  let waiting = view.waiting;
  let soldOut = 0;
  const nothingLeft = isSoldOut(view.stock);
  if (nothingLeft !== room.soldOut) room = { ...room, soldOut: nothingLeft };
  if (nothingLeft && waiting > 0) {
    changes.push({ type: 'tokensSoldOut' });
    soldOut = waiting;
    waiting = 0;
  }
  const opened = isOpeningDue(room, now);
  if (opened) {
    if (view.opening === undefined)
      throw new TypeError('decideTick: an opening is due, and the view has no opening range');
    const range = waiting > 0 && room.shuffle ? view.opening : null;
    room = {
      ...room,
      pendingOpening: false,
      ...(range ? { draw: { seed: newSeed(), from: range.from, to: range.to } } : {}),
    };
  }
  if (room !== view.room) changes.push({ type: 'roomChanged', room });
  const admitting = isAdmitting(room);
  // Before the opening, a room that is not paused admits its presale codes' holders (the head of its line) only.
  const presale =
    !room.paused && room.pendingOpening ? Math.min(waiting, view.priorityWaiting ?? 0) : 0;
  const count =
    admitting || presale > 0
      ? Math.max(
          0,
          Math.min(room.admitPerTick, room.maxActive - view.active, admitting ? waiting : presale),
        )
      : 0;
  if (count > 0)
    changes.push({
      type: 'tokensAdmitted',
      count,
      expiresAt: now + delayOf(lifecycles.token, 'active'),
    });
  return {
    changes,
    answer: { admitted: count, soldOut, opened, observed: admitting && waiting > 0 },
  };
}

/** A waiting token not polled for `waitingTtl` is abandoned. */
export function isAbandoned(lastSeenAt: number, now: number, config: EngineConfig): boolean {
  return lastSeenAt + config.queueWaitingTtlMs <= now;
}

/** The token as users see it; `reason` for a token that ended for one. */
export function tokenView(
  token: TokenState,
  place: Place,
  lastSeenAt: number,
  config: EngineConfig,
  reason?: TokenEndReason,
): QueueToken {
  const expiresAt =
    token.status === 'waiting' ? lastSeenAt + config.queueWaitingTtlMs : token.expiresAt;
  const view: { -readonly [K in keyof QueueToken]: QueueToken[K] } = {
    token: token.token,
    userId: token.userId,
    status: token.status,
    position: place.position,
    estimatedWaitSeconds: place.estimatedWaitSeconds,
    issuedAt: new Date(token.issuedAt).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
    room: token.room ?? DEFAULT_ROOM,
  };
  if (token.status === 'waiting' && place.opensAt !== undefined)
    view.opensAt = new Date(place.opensAt).toISOString();
  const why = reason ?? token.reason;
  if (token.status === 'expired' && why !== undefined) {
    view.reason = why;
    view.position = 0;
    view.estimatedWaitSeconds = 0;
  }
  return view;
}

/** A watched token's last view once it has ended without being admitted (abandoned, or sold out with `reason`). */
export function endedView(last: QueueToken, reason?: TokenEndReason): QueueToken {
  const { opensAt: _opensAt, reason: _reason, ...rest } = last;
  return {
    ...rest,
    status: 'expired',
    position: 0,
    estimatedWaitSeconds: 0,
    ...(reason === undefined ? {} : { reason }),
  };
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
