import { randomBytes } from 'node:crypto';
import type { TickReport } from '@usher/engine';
import type { CommandRunner } from '../CommandRunner.js';
import { isConflict, isUnavailable, onClient } from '../database.js';
import { KeeperSession } from './KeeperSession.js';
import { runStep, runSweep, type StepResult } from './step.js';

/**
 * The scheduler on one instance: every `queueTickMs` it competes for the
 * keeper's seat (see {@link KeeperSession}) and, holding it, runs a tick;
 * every `holdSweepMs` the keeper sweeps. `tick()` and `sweep()` run one step
 * now on any instance (steps take one lock, so they never overlap), so tests
 * drive time on any instance with a simulated clock. A tick or sweep that
 * fails for any reason but an unreachable database is reported to the
 * observers as a fault (logged by the server), and the next tick tries again.
 */
export class Keeper {
  readonly #runner: CommandRunner;
  readonly #session: KeeperSession;
  readonly #competes: boolean;
  readonly #timers = new Map<'tick' | 'sweep', unknown>();
  #ticking = false;
  #lastTickMs = 0;
  #maxTickMs = 0;

  constructor(runner: CommandRunner, competes: boolean) {
    this.#runner = runner;
    this.#competes = competes;
    this.#session = new KeeperSession(
      runner.pool,
      `usher-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
  }

  /** Whether this instance is the keeper now. */
  get held(): boolean {
    return this.#session.held;
  }

  get lastTickMs(): number {
    return this.#lastTickMs;
  }

  get maxTickMs(): number {
    return this.#maxTickMs;
  }

  /** Arms the timers of an instance that competes to be the keeper. */
  start(): void {
    if (!this.#competes) return;
    this.#every('tick', this.#runner.config.queueTickMs);
    this.#every('sweep', this.#runner.config.holdSweepMs);
  }

  /** Stops the timers. */
  stopTimers(): void {
    for (const handle of this.#timers.values()) this.#runner.clock.clearTimeout(handle);
    this.#timers.clear();
  }

  /** Gives the seat up (ending its session releases the lock). */
  stop(): void {
    this.stopTimers();
    this.#session.release();
  }

  /** A scheduler tick now, on this instance, at `now`. */
  async tick(now: number): Promise<TickReport> {
    const runner = this.#runner;
    const started = performance.now();
    const { report } = await runner.slots.with(() =>
      onClient(runner.pool, (client) => runStep(client, now, { ...this.#options(), real: true })),
    );
    await this.#ticked(started, report.admitted);
    return report;
  }

  /** The safety sweep now, on this instance, at `now`. */
  sweep(now: number): Promise<void> {
    return this.#runner.slots.with(() =>
      onClient(this.#runner.pool, (client) => runSweep(client, now, this.#options())),
    );
  }

  #options() {
    return { config: this.#runner.config, lifecycles: this.#runner.lifecycles };
  }

  #every(timer: 'tick' | 'sweep', ms: number): void {
    const runner = this.#runner;
    this.#timers.set(
      timer,
      runner.clock.setTimeout(() => {
        if (runner.closing) return;
        this.#every(timer, ms);
        if (timer === 'sweep') {
          void runner.track(this.#timedSweep()).catch(this.#fault('sweep'));
          return;
        }
        if (this.#ticking) return; // the tick under way is slow: this one is skipped, and the gate stays
        const gate: Promise<void> = runner
          .track(this.#timedTick())
          .catch(this.#fault('tick'))
          .finally(() => {
            if (runner.tickGate === gate) runner.tickGate = undefined;
          });
        runner.tickGate = gate;
      }, ms),
    );
  }

  /** A timer's tick: compete for the keeper's seat (every tick), and tick if this instance holds it. */
  async #timedTick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      if (!(await this.#session.ensure())) return;
      const started = performance.now();
      const { report }: StepResult = await this.#session.tick(
        this.#runner.clock.now(),
        this.#options(),
      );
      await this.#ticked(started, report.admitted);
    } finally {
      this.#ticking = false;
    }
  }

  /** A timer's sweep: competes for the keeper's seat too (ticks may be far apart), and sweeps if this instance holds it. */
  async #timedSweep(): Promise<void> {
    if (await this.#session.ensure())
      await this.#session.sweep(this.#runner.clock.now(), this.#options());
  }

  async #ticked(started: number, admitted: number): Promise<void> {
    const durationMs = (this.#lastTickMs = performance.now() - started);
    this.#maxTickMs = Math.max(this.#maxTickMs, durationMs);
    this.#runner.observers.tell((observer) => observer.tick?.({ durationMs, admitted }));
    await this.#runner.line.refresh();
  }

  /**
   * Reports a failed tick or sweep. An unreachable database is no fault (retried when back), nor a
   * deadlock or serialization failure (rolled back whole: the next tick does it).
   */
  #fault(source: 'tick' | 'sweep'): (error: unknown) => void {
    return (error) => {
      if (isUnavailable(error) || isConflict(error)) return;
      const fault = error instanceof Error ? error : new Error(String(error));
      this.#runner.observers.tell((observer) => observer.fault?.({ source, error: fault }));
    };
  }
}
