import type pg from 'pg';
import { runStep, runSweep, type StepOptions, type StepResult } from './step.js';

/**
 * The keeper's seat: a session-level advisory lock held by one pool client
 * for as long as this engine is the keeper. Exactly one engine holds it; when
 * that engine's connection dies, PostgreSQL releases the lock and any engine
 * that tries next (every tick) takes over.
 *
 * Fenced twice: the keeper writes only through the session that holds the
 * lock (a lost session cannot write), and every step first checks that the
 * `keeper.epoch` it took on acquiring is still the current one (a deposed
 * keeper's step rolls back).
 */
export class KeeperSession {
  readonly #pool: pg.Pool;
  readonly #name: string;
  #client: pg.PoolClient | undefined;
  #epoch = 0;
  #acquiring: Promise<boolean> | undefined;
  /** The session runs one transaction at a time: ticks and sweeps queue here. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(pool: pg.Pool, name: string) {
    this.#pool = pool;
    this.#name = name;
  }

  /** Whether this engine is the keeper now. */
  get held(): boolean {
    return this.#client !== undefined;
  }

  /** Becomes the keeper if nobody is; answers whether this engine is the keeper. */
  ensure(): Promise<boolean> {
    if (this.#client) return Promise.resolve(true);
    this.#acquiring ??= this.#acquire().finally(() => (this.#acquiring = undefined));
    return this.#acquiring;
  }

  /** A scheduler tick as the keeper. */
  async tick(now: number, options: Omit<StepOptions, 'real' | 'epoch'>): Promise<StepResult> {
    return this.#use((client) =>
      runStep(client, now, { ...options, real: true, epoch: this.#epoch }),
    );
  }

  /** The safety sweep as the keeper. */
  async sweep(now: number, options: Omit<StepOptions, 'real' | 'epoch'>): Promise<void> {
    return this.#use((client) => runSweep(client, now, { ...options, epoch: this.#epoch }));
  }

  /** Gives the seat up: ending the session releases the lock. */
  release(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.release(true);
  }

  #use<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const run = async () => {
      const client = this.#client;
      if (!client) throw new Error('not the keeper');
      try {
        return await work(client);
      } catch (error) {
        // A lost connection, or deposed: let go, and compete again at the next tick.
        if (this.#client === client) this.release();
        throw error;
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #acquire(): Promise<boolean> {
    const client = await this.#pool.connect();
    const lost = () => {
      if (this.#client === client) this.release();
    };
    client.on('error', lost);
    try {
      const { rows } = await client.query<{ won: boolean }>('SELECT usher_try_keeper() AS won');
      if (!rows[0]?.won) {
        client.off('error', lost);
        client.release();
        return false;
      }
      const epoch = await client.query<{ epoch: string }>(
        'UPDATE keeper SET epoch = epoch + 1, holder = $1 WHERE id = 1 RETURNING epoch',
        [this.#name],
      );
      this.#epoch = Number(epoch.rows[0]!.epoch);
      this.#client = client;
      return true;
    } catch (error) {
      client.release(true);
      throw error;
    }
  }
}
