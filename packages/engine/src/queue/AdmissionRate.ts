/**
 * How many tokens per second get admitted, for wait estimates: how fast
 * active places actually free up while people wait.
 *
 * While people wait, each tick admits exactly the places that freed since the
 * last one (payments, expiries), up to `admitPerTick`. So the rate is the
 * places admitted over the time people waited, both counted over a recent
 * window (older ticks fade out exponentially). Before there is much to count,
 * a prior fills in: the worst case the configuration implies, one place
 * freeing per `activeTtl / maxActive` (every active user keeps their place to
 * the end), worth a quarter of the window at first and fading like any
 * observation. And when no place has freed for longer than the average says,
 * the rate is at most one per that long. The rate stays between that worst
 * case and the best one, `admitPerTick` every tick.
 *
 * So with one active place of a 10-minute window, the first in line is told
 * about 10 minutes, not 1 second, until places are seen to free faster.
 */
export class AdmissionRate {
  #ceiling: number;
  #floor: number;
  readonly #tickSeconds: number;
  readonly #activeTtlSeconds: number;
  /** Per tick, what an observation keeps of the past. */
  readonly #keep: number;
  /** The prior's weight, in seconds of waiting; it fades like an observation. */
  #priorSeconds: number;
  /** Places admitted while people waited, older ticks faded. */
  #admitted = 0;
  /** Seconds people waited, faded alike. */
  #waited = 0;
  /** Seconds people have waited since a place last freed. */
  #quiet = 0;
  #rate: number;

  constructor(options: {
    admitPerTick: number;
    tickMs: number;
    maxActive: number;
    activeTtlMs: number;
  }) {
    this.#tickSeconds = options.tickMs / 1000;
    const activeTtlSeconds = options.activeTtlMs / 1000;
    this.#activeTtlSeconds = activeTtlSeconds;
    this.#ceiling = options.admitPerTick / this.#tickSeconds;
    this.#floor = Math.min(this.#ceiling, options.maxActive / activeTtlSeconds);
    // Long enough to see about ten places free at the worst rate, at least a minute, at most one active period.
    const window = Math.max(
      this.#tickSeconds,
      Math.min(activeTtlSeconds, Math.max(60, 10 / this.#floor)),
    );
    this.#keep = Math.exp(-this.#tickSeconds / window);
    this.#priorSeconds = window / 4;
    this.#rate = this.#floor;
  }

  /** Tokens per second. */
  get perSecond(): number {
    return this.#rate;
  }

  /**
   * The room's admission changed (an operator's `admitPerTick` or
   * `maxActive`): the best and worst cases move with it; what was observed
   * stays, and the estimate is kept within the new bounds.
   */
  retune(options: { admitPerTick: number; maxActive: number }): void {
    this.#ceiling = options.admitPerTick / this.#tickSeconds;
    this.#floor = Math.min(this.#ceiling, options.maxActive / this.#activeTtlSeconds);
    this.#rate = Math.min(this.#ceiling, Math.max(this.#floor, this.#rate));
  }

  /** Records a tick that had people waiting, and the places it admitted. */
  observe(admitted: number): void {
    this.#admitted = this.#admitted * this.#keep + admitted;
    this.#waited = this.#waited * this.#keep + this.#tickSeconds;
    this.#priorSeconds *= this.#keep;
    this.#quiet = admitted > 0 ? 0 : this.#quiet + this.#tickSeconds;
    const average =
      (this.#admitted + this.#floor * this.#priorSeconds) / (this.#waited + this.#priorSeconds);
    // However fast places freed before, none has for `quiet` seconds now.
    const estimate = this.#quiet > 0 ? Math.min(average, 1 / this.#quiet) : average;
    this.#rate = Math.min(this.#ceiling, Math.max(this.#floor, estimate));
  }

  /** Seconds until the token at `position` is admitted. */
  secondsFor(position: number): number {
    return position === 0 ? 0 : Math.ceil(position / this.#rate);
  }
}
