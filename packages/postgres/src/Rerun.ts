/**
 * Work that runs one at a time and is never missed: `run()` while it runs
 * has it run once more after (however many asked meanwhile), and resolves
 * when that is done. Refreshes are this: the line from the published steps,
 * the watchers from the line.
 */
export class Rerun {
  readonly #work: () => Promise<void>;
  readonly #after: () => Promise<void>;
  #running: Promise<void> | undefined;
  #again = false;

  /** `after` runs once the work has settled (not again for each rerun). */
  constructor(work: () => Promise<void>, after: () => Promise<void> = async () => undefined) {
    this.#work = work;
    this.#after = after;
  }

  run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#work();
        } while (this.#again);
      } finally {
        this.#running = undefined;
      }
      await this.#after();
    })();
    return this.#running;
  }

  /** Has the run under way run once more (its work found it is already out of date). */
  again(): void {
    this.#again = true;
  }
}
