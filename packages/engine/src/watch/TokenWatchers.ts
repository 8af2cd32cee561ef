import type { QueueToken, TokenWatcher } from '../types.js';

/** A watcher, and the updates held back until it has had the first view. */
interface Watch {
  readonly watcher: TokenWatcher;
  held: QueueToken[] | undefined;
}

/**
 * The watchers of queue tokens, for any engine: who watches which token, and
 * the delivery of each tick's changed views to them.
 *
 * A watcher is registered before the engine is asked for the token's first
 * view, so no tick can slip between that answer and the registration; updates
 * that arrive first are held until the first view is out. A view that is no
 * longer `waiting` is the last one: the watcher then ends.
 */
export class TokenWatchers {
  readonly #watchers = new Map<string, Set<Watch>>();
  /** Told when the last watcher of a token leaves. */
  readonly #onIdle: (token: string) => void;

  constructor(onIdle: (token: string) => void = () => undefined) {
    this.#onIdle = onIdle;
  }

  /** Tokens with at least one watcher. */
  get size(): number {
    return this.#watchers.size;
  }

  /** The watched tokens. */
  tokens(): IterableIterator<string> {
    return this.#watchers.keys();
  }

  /**
   * Watches `token`: registers `watcher`, asks `first()` for the token's view
   * (which may refuse: the watch is then undone and the error thrown), hands
   * it out with whatever came meanwhile, and answers a function that stops
   * watching.
   */
  async watch(
    token: string,
    watcher: TokenWatcher,
    first: () => Promise<QueueToken>,
  ): Promise<() => void> {
    const watch: Watch = { watcher, held: [] };
    let watches = this.#watchers.get(token);
    if (!watches) this.#watchers.set(token, (watches = new Set()));
    watches.add(watch);
    const stop = () => {
      const current = this.#watchers.get(token);
      if (!current?.delete(watch) || current.size > 0) return;
      this.#watchers.delete(token);
      this.#onIdle(token);
    };
    let view: QueueToken;
    try {
      view = await first();
    } catch (error) {
      stop();
      throw error;
    }
    const held = watch.held!;
    watch.held = undefined;
    for (const next of [view, ...held]) {
      if (!send(watch, next)) {
        stop();
        break;
      }
    }
    return stop;
  }

  /**
   * Hands a tick's updates (durable by now) to their watchers, a thousand at a
   * time with a turn of the event loop between: ten thousand open streams do
   * not hold up requests.
   */
  deliver(updates: readonly QueueToken[], from = 0): void {
    const to = Math.min(updates.length, from + 1_000);
    for (let i = from; i < to; i++) {
      const view = updates[i]!;
      const watches = this.#watchers.get(view.token);
      if (!watches) continue;
      for (const watch of watches) {
        if (watch.held) watch.held.push(view);
        else if (!send(watch, view)) watches.delete(watch);
      }
      if (watches.size === 0) this.#watchers.delete(view.token);
    }
    if (to < updates.length) setImmediate(() => this.deliver(updates, to));
  }

  /** Ends every watch (the engine is closing or failed). */
  endAll(): void {
    for (const watches of this.#watchers.values()) for (const { watcher } of watches) watcher.end();
    this.#watchers.clear();
  }
}

/** Gives a watcher a view; after a last one (no longer waiting) it ends. Answers whether the watch goes on. */
function send({ watcher }: Watch, view: QueueToken): boolean {
  watcher.update(view);
  if (view.status === 'waiting') return true;
  watcher.end();
  return false;
}
