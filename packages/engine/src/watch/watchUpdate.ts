import { endedView, type Place } from '../rules/queue.js';
import type { QueueToken } from '../types.js';

/** A watched token as an engine finds it after a tick: waiting (where, and its view), active (its view), or ended. */
export type WatchedNow =
  | { readonly place: Place; readonly view: () => QueueToken }
  | { readonly view: QueueToken }
  | undefined;

/**
 * What a token's watchers are told after a tick, given what they were told
 * last: `undefined` when nothing they show changed. A waiting token's news is
 * its position or its wait (before the opening, only the opening itself: the
 * countdown to `opensAt` is the watcher's to show); an active one's view is
 * news; a token that has ended gets its last view (with `reason: "sold_out"`
 * when nothing is left to sell). The same for both engines.
 */
export function watchUpdate(
  last: QueueToken,
  now: WatchedNow,
  soldOut: boolean,
): QueueToken | undefined {
  if (now === undefined) return endedView(last, soldOut ? 'sold_out' : undefined);
  if (!('place' in now)) return now.view;
  const { place } = now;
  if (
    place.position === last.position &&
    (place.position === null || place.estimatedWaitSeconds === last.estimatedWaitSeconds)
  )
    return undefined;
  return now.view();
}
