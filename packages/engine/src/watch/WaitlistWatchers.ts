import type { Reservation, WaitlistEntry, WaitlistWatcher } from '../types.js';

/** The key of a user's entry on a schedule's waitlist. */
export const waitlistKey = (scheduleId: string, userId: string): string =>
  JSON.stringify([scheduleId, userId]);

/**
 * A change to a watched waitlist entry, durable by the time it is delivered:
 * a hold offered to the user, or the entry as it is now (`undefined`: gone).
 */
export type WaitlistUpdate =
  | {
      readonly scheduleId: string;
      readonly userId: string;
      readonly entry: WaitlistEntry | undefined;
      readonly reservation?: undefined;
    }
  | { readonly scheduleId: string; readonly userId: string; readonly reservation: Reservation };

/** A watcher, and the updates held back until it has had the entry as it was first. */
interface Watch {
  readonly watcher: WaitlistWatcher;
  held: WaitlistUpdate[] | undefined;
}

/**
 * The watchers of waitlist entries (SPEC §11), for any engine: who watches
 * which entry, and the delivery of updates to them. As for tokens
 * (`TokenWatchers`), a watcher is registered before the engine is asked for
 * the entry, so nothing slips between; what arrives first is held until the
 * entry is out. `entry(undefined)` is the last update: the watch then ends.
 */
export class WaitlistWatchers {
  readonly #watchers = new Map<string, Set<Watch>>();
  /** Told when the last watcher of an entry leaves while it still exists. */
  readonly #onIdle: (scheduleId: string, userId: string) => void;

  constructor(onIdle: (scheduleId: string, userId: string) => void = () => undefined) {
    this.#onIdle = onIdle;
  }

  get size(): number {
    return this.#watchers.size;
  }

  /**
   * Watches the entry of `userId` (resolved first) on `scheduleId`: registers
   * `watcher`, asks `first()` for the entry (a refusal undoes the watch and is
   * thrown), hands it out with whatever came meanwhile, and answers a
   * function that stops watching.
   */
  async watch(
    scheduleId: string,
    userId: string,
    watcher: WaitlistWatcher,
    first: () => Promise<WaitlistEntry>,
  ): Promise<() => void> {
    const key = waitlistKey(scheduleId, userId);
    const watch: Watch = { watcher, held: [] };
    let watches = this.#watchers.get(key);
    if (!watches) this.#watchers.set(key, (watches = new Set()));
    watches.add(watch);
    let ended = false;
    const stop = () => {
      const current = this.#watchers.get(key);
      if (!current?.delete(watch) || current.size > 0) return;
      this.#watchers.delete(key);
      if (!ended) this.#onIdle(scheduleId, userId);
    };
    let entry: WaitlistEntry;
    try {
      entry = await first();
    } catch (error) {
      stop();
      throw error;
    }
    const held = watch.held!;
    watch.held = undefined;
    watcher.entry(entry);
    for (const update of held) {
      if (!send(watch, update)) {
        ended = true;
        stop();
        break;
      }
    }
    return stop;
  }

  /** Hands durable updates to their watchers, in order. */
  deliver(updates: readonly WaitlistUpdate[]): void {
    for (const update of updates) {
      const key = waitlistKey(update.scheduleId, update.userId);
      const watches = this.#watchers.get(key);
      if (!watches) continue;
      for (const watch of watches) {
        if (watch.held) watch.held.push(update);
        else if (!send(watch, update)) watches.delete(watch);
      }
      if (watches.size === 0) this.#watchers.delete(key);
    }
  }

  /** Ends every watch (the engine is closing or failed): each gets `end()`, not an entry. */
  endAll(): void {
    for (const watches of this.#watchers.values())
      for (const { watcher } of watches) watcher.end?.();
    this.#watchers.clear();
  }
}

/** Gives a watcher an update; after the entry is gone, the watch ends. Answers whether it goes on. */
function send({ watcher }: Watch, update: WaitlistUpdate): boolean {
  if (update.reservation !== undefined) {
    watcher.reservation(update.reservation);
    return true;
  }
  watcher.entry(update.entry);
  return update.entry !== undefined;
}
