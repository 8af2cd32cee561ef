/**
 * How many tokens per second get admitted, for wait estimates.
 *
 * An exponentially weighted average of what each tick admitted while people
 * were waiting, kept between two bounds the configuration implies: at best
 * `admitPerTick` every tick; at worst one slot frees per `activeTtl / maxActive`
 * (every active user keeps their slot to the end).
 */
export class AdmissionRate {
  readonly #ceiling: number;
  readonly #floor: number;
  readonly #ticksPerSecond: number;
  #rate: number;

  constructor(options: { admitPerTick: number; tickMs: number; maxActive: number; activeTtlMs: number }) {
    this.#ticksPerSecond = 1000 / options.tickMs;
    this.#ceiling = options.admitPerTick * this.#ticksPerSecond;
    this.#floor = Math.min(this.#ceiling, options.maxActive / (options.activeTtlMs / 1000));
    this.#rate = this.#ceiling;
  }

  /** Tokens per second. */
  get perSecond(): number {
    return this.#rate;
  }

  /** Records a tick that had people waiting. */
  observe(admitted: number): void {
    const sample = admitted * this.#ticksPerSecond;
    this.#rate = Math.min(this.#ceiling, Math.max(this.#floor, 0.8 * this.#rate + 0.2 * sample));
  }

  /** Seconds until the token at `position` is admitted. */
  secondsFor(position: number): number {
    return position === 0 ? 0 : Math.ceil(position / this.#rate);
  }
}
