/**
 * Queue rules (SPEC §4, "Queue"): issuing, admission, what a token may do.
 * Pure: state + command + time in, changes + answer out, or an `EngineError`.
 */
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { delayOf, type Lifecycles } from '../machines/lifecycles.js';
import type { QueueToken, TokenEndReason } from '../types.js';
import { requireUserId } from '../validate.js';
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

import {
  tokenInvalid,
  requireTokenArg,
  statusAt,
  requireKnown,
  keptUntil,
  requireReadable,
  requireLive,
  requireActive,
  knownUser,
  activeUser,
  requireTokenRoom,
  type TokenFacts,
} from './tokens.js';
export {
  tokenInvalid,
  requireTokenArg,
  statusAt,
  requireKnown,
  keptUntil,
  requireReadable,
  requireLive,
  requireActive,
  knownUser,
  activeUser,
  requireTokenRoom,
  type TokenFacts,
} from './tokens.js';

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
