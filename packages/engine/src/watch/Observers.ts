import type { EngineObserver } from '../types.js';

/**
 * An engine's observers (`UsherEngine.observe`), for any engine: who
 * observes, and telling them, where an observer's fault is never the
 * engine's.
 */
export class Observers {
  readonly #observers = new Set<EngineObserver>();

  /** Adds `observer` until the returned function is called. */
  add(observer: EngineObserver): () => void {
    this.#observers.add(observer);
    return () => void this.#observers.delete(observer);
  }

  get size(): number {
    return this.#observers.size;
  }

  /** Tells every observer, e.g. `tell((o) => o.tick?.(report))`; what one throws is dropped. */
  tell(report: (observer: EngineObserver) => void): void {
    for (const observer of this.#observers) {
      try {
        report(observer);
      } catch {
        // An observer's fault is not the command's.
      }
    }
  }
}
