/**
 * Where the engine reads the time and arms its timers. XState's
 * `SimulatedClock` satisfies it, so tests move time by hand and never sleep.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's longest timer; longer delays are re-armed when they fire early. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The wall clock. Its timers are `unref`ed: an engine never keeps a process
 * alive on its own; the server that embeds it does.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
