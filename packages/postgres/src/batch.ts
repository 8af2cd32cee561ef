/**
 * Connection slots, and batches of like work run as one statement.
 *
 * On these machines a round trip to PostgreSQL costs more CPU (in Node and
 * in PostgreSQL: protocol, syscalls, executor start-up) than the indexed
 * reads and writes a command needs. So concurrent commands of one kind share
 * their round trips: their view reads go in one statement (one snapshot),
 * their writes in one transaction (one commit, one WAL flush).
 */

/**
 * A counting semaphore, first come first served: how many commands' queries
 * may use the pool at once. Work beyond that waits here, in order, rather
 * than in the pool's queue, whose wait counts against its connection
 * timeout: a burst waits, and only a database that cannot be reached
 * answers `UNAVAILABLE`.
 */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(count: number) {
    this.#free = Math.max(1, count);
  }

  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }

  /** Runs `work` holding a slot. */
  async with<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}

/** One item's outcome in a batch: a value, or an error of its own (the others are unaffected). */
export type Outcome<O> =
  { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: unknown };

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

export interface BatcherOptions {
  /** Batches of this kind running at once. */
  readonly concurrency: number;
  /** Items in one batch at most. */
  readonly max: number;
  /** The connection slots a batch takes one of while it runs. */
  readonly slots: Slots;
  /**
   * Whether a batch that failed as a whole with `error` did nothing and may be
   * split: its halves run again, down to single items, so that one bad item
   * fails alone. Default: never (every item of the batch fails with the error).
   */
  readonly isolate?: (error: unknown) => boolean;
}

/**
 * Items submitted while this kind's batches are all running wait for the
 * next batch, which takes every item waiting then (up to `max`), as soon as
 * one finishes. A batch of an idle kind starts at the end of the event
 * loop's turn in which its first item came (`setImmediate`), so the
 * requests a server read in one turn share it: an
 * idle engine runs an item with no more delay than that; the busier it is,
 * the larger the batches, and the fewer round trips (and wake-ups of
 * PostgreSQL's processes) per item.
 *
 * `run` gets the items in submission order and answers one {@link Outcome}
 * each, in the same order. If it throws, and `isolate` says the error left
 * nothing done, the batch is split in halves that run again (one bad item
 * then fails alone, in about log₂(batch) more runs); otherwise every item of
 * the batch fails with that error.
 */
export class Batcher<I, O> {
  readonly #run: (items: readonly I[]) => Promise<readonly Outcome<O>[]>;
  readonly #options: BatcherOptions;
  readonly #queue: Pending<I, O>[] = [];
  #running = 0;
  #scheduled = false;

  constructor(
    run: (items: readonly I[]) => Promise<readonly Outcome<O>[]>,
    options: BatcherOptions,
  ) {
    this.#run = run;
    this.#options = options;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#scheduled || this.#running >= this.#options.concurrency) return;
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.#flush();
      });
    });
  }

  async #flush(): Promise<void> {
    this.#running++;
    const { slots, max } = this.#options;
    await slots.acquire();
    // Taken once the slot is ours: whatever arrived meanwhile joins this batch.
    const batch = this.#queue.splice(0, max);
    try {
      if (batch.length > 0) await this.#settle(batch);
    } finally {
      slots.release();
      this.#running--;
      if (this.#queue.length > 0 && this.#running < this.#options.concurrency) void this.#flush();
    }
  }

  /** Runs `batch` and answers each of its items (see {@link BatcherOptions.isolate}). */
  async #settle(batch: readonly Pending<I, O>[]): Promise<void> {
    let outcomes: readonly Outcome<O>[];
    try {
      outcomes = await this.#run(batch.map((pending) => pending.item));
    } catch (error) {
      if (batch.length > 1 && this.#options.isolate?.(error)) {
        const half = Math.ceil(batch.length / 2);
        await this.#settle(batch.slice(0, half));
        await this.#settle(batch.slice(half));
      } else {
        for (const pending of batch) pending.reject(error);
      }
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined)
        pending.reject(new Error('a batch answered fewer items than it was given'));
      else if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
