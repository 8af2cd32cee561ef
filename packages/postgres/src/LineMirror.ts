import type { EngineConfig } from '@usher/engine';
import {
  placeBeforeOpening,
  type Lifecycles,
  type Place,
  type RoomState,
  type TokenFacts,
} from '@usher/engine/rules';
import type pg from 'pg';
import { onClient, query, unavailable } from './database.js';
import { runStep } from './keeper/step.js';
import { QueueMirror, TICK_COLUMNS, tickRow } from './QueueMirror.js';
import { tokenState, type TokenRow } from './reads.js';
import { Rerun } from './Rerun.js';

/** A place that is never used: the token is not waiting. */
export const NOWHERE: Place = { position: 0, estimatedWaitSeconds: 0 };

/** A token and what the rules need to know about it. */
export interface Facts extends TokenFacts {
  readonly row: TokenRow | undefined;
  readonly lastSeenAt: number;
}

/** What the issue of a waiting token answers (see `usher_issue_many`). */
export interface Arrival {
  readonly seq: number;
  readonly gone: number;
  readonly tick: number;
}

/**
 * This instance's picture of the waiting line ({@link QueueMirror}), kept up
 * to date from the keeper's published steps: it LISTENs for them on a
 * connection of its own (re-opened and caught up when lost), and applies
 * every `queue_ticks` row in order. Positions are exact and never counted
 * over the queue: a lined token's position is a prefix sum in memory after
 * one indexed read of its row. A token that arrived since the last step has
 * no line yet: numbers are drawn under a lock shared by arrivals and
 * exclusive with steps, so every number up to the step's `seq_end` is
 * settled, and its position is the line's length plus the numbers drawn
 * between `seq_end` and its own, less those known abandoned.
 *
 * When no scheduler tick has run for a tick period and a waiting token may
 * have been abandoned, a poll first runs a catch-up step (expire, abandon,
 * line up, no admission): positions stay exact when time is driven by hand
 * or the keeper is away.
 */
export class LineMirror {
  readonly #pool: pg.Pool;
  readonly #config: EngineConfig;
  readonly #lifecycles: Lifecycles;
  readonly #mirror: QueueMirror;
  #listener: pg.PoolClient | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  readonly #refresh: Rerun;
  #catchingUp: Promise<void> | undefined;
  #closed = false;

  constructor(options: {
    pool: pg.Pool;
    config: EngineConfig;
    lifecycles: Lifecycles;
    moved: () => Promise<void>;
  }) {
    this.#pool = options.pool;
    this.#config = options.config;
    this.#lifecycles = options.lifecycles;
    this.#mirror = new QueueMirror(options.config);
    this.#refresh = new Rerun(() => this.#applySteps(), options.moved);
  }

  /** The room as of the last step applied. */
  get room(): RoomState {
    return this.#mirror.room;
  }

  get rate(): QueueMirror['rate'] {
    return this.#mirror.rate;
  }

  /** The number of the last step applied. */
  get applied(): number {
    return this.#mirror.applied;
  }

  /** Loads the line and listens for keeper steps. */
  async start(): Promise<void> {
    await this.#reload();
    await this.#listen();
  }

  /** Gives up the LISTEN connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#listenRetry) clearTimeout(this.#listenRetry);
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener) {
      await listener.query('UNLISTEN *').catch(() => undefined);
      listener.release();
    }
  }

  /**
   * Resolves when the database answers within a second, on the LISTEN
   * connection (so a pool busy with commands does not make it look down);
   * `UNAVAILABLE` otherwise, also while that connection is being re-opened.
   */
  async ping(): Promise<void> {
    const listener = this.#listener;
    if (!listener) throw unavailable(new Error('not connected to the database'));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        listener.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('connection timeout: the database did not answer within 1 s')),
            1_000,
          );
        }),
      ]);
    } catch (error) {
      throw unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The token facts the rules take. For a waiting token, its place is worked
   * out first (the rules ask for it synchronously); `again` when a catch-up
   * step ran or the line moved under the read, and the view must be read anew.
   */
  async factsOf(arg: unknown, row: TokenRow | undefined, now: number): Promise<Facts | 'again'> {
    const token = tokenState(row, now, this.#config, this.#lifecycles);
    let place = NOWHERE;
    if (token?.status === 'waiting') {
      if (this.#mirror.needsCatchUp(now, this.#config.queueTickMs)) {
        await this.catchUp(now);
        return 'again';
      }
      if (Number(row!.tick) > this.#mirror.applied) await this.refresh();
      const found = this.placeNow(row!, now);
      if (!found) return 'again';
      place = found;
    }
    return { arg, token, placeOf: () => place, row, lastSeenAt: Number(row?.last_seen_at ?? now) };
  }

  /**
   * A waiting token's place from what this instance has applied; `undefined`
   * when that is not enough (read against another step). Before the
   * opening, no rank.
   */
  placeNow(row: TokenRow, now: number): Place | undefined {
    // Joined with a presale code: its rank among those, at the head of the line (also before the opening).
    if (row.priority && row.status === 'waiting')
      return this.#place(Number(row.priority_ahead ?? 0) + 1);
    if (this.#mirror.room.pendingOpening) return this.#beforeOpening(now);
    if (row.line === null) {
      if (Number(row.tick) !== this.#mirror.applied) return undefined;
      return this.#arrived(Number(row.seq), Number(row.gone_below ?? 0));
    }
    const line = Number(row.line);
    if (line > this.#mirror.line.end) return undefined;
    const position = this.#mirror.rank(line);
    return position === 0 ? undefined : this.#place(position);
  }

  /** A token just issued waiting: its place, or `undefined` when it was issued against another step than the one applied. */
  async arrivalPlace(arrival: Arrival, now: number): Promise<Place | undefined> {
    if (arrival.tick > this.#mirror.applied) await this.refresh();
    if (arrival.tick !== this.#mirror.applied) return undefined;
    return this.#mirror.room.pendingOpening
      ? this.#beforeOpening(now)
      : this.#arrived(arrival.seq, arrival.gone);
  }

  /** A token without a line: after everyone in line and the arrivals numbered before it, less those abandoned. */
  #arrived(seq: number, gone: number): Place {
    return this.#place(this.#mirror.line.size + seq - this.#mirror.seqEnd - gone);
  }

  #place(position: number): Place {
    return { position, estimatedWaitSeconds: this.#mirror.rate.secondsFor(position) };
  }

  /** A waiting token's place while the room waits for its opening (the line as of the last step is the crowd). */
  #beforeOpening(now: number): Place {
    return placeBeforeOpening(this.#mirror.room, now, this.#mirror.line.size, this.#mirror.rate);
  }

  /** A catch-up step (see the class notes), at most one at a time per instance. */
  catchUp(now: number): Promise<void> {
    this.#catchingUp ??= (async () => {
      try {
        await onClient(this.#pool, (client) =>
          runStep(client, now, { config: this.#config, lifecycles: this.#lifecycles, real: false }),
        );
        await this.refresh();
      } finally {
        this.#catchingUp = undefined;
      }
    })();
    return this.#catchingUp;
  }

  /** Applies the published steps this instance has not seen, then tells the watchers. One at a time; a call meanwhile runs once more after. */
  refresh(): Promise<void> {
    return this.#refresh.run();
  }

  async #applySteps(): Promise<void> {
    for (;;) {
      const { rows } = await query(
        this.#pool,
        `SELECT ${TICK_COLUMNS} FROM queue_ticks WHERE no > $1 ORDER BY no LIMIT 1000`,
        [this.#mirror.applied],
      );
      for (const row of rows) {
        if (!this.#mirror.apply(tickRow(row, this.#config))) return this.#reload();
      }
      if (rows.length < 1000) return;
    }
  }

  /** Rebuilds the line from the tokens and the last step, in one snapshot: at start, or after falling too far behind. */
  async #reload(): Promise<void> {
    const { rows } = await query<{ last: Record<string, unknown> | null; lines: string[] }>(
      this.#pool,
      `SELECT (SELECT row_to_json(q) FROM (SELECT ${TICK_COLUMNS} FROM queue_ticks ORDER BY no DESC LIMIT 1) q) AS last,
              (SELECT coalesce(array_agg(line ORDER BY line), '{}') FROM tokens WHERE status = 'waiting' AND line IS NOT NULL) AS lines`,
      [],
    );
    const { last, lines } = rows[0]!;
    this.#mirror.load(last ? tickRow(last, this.#config) : undefined, lines.map(Number));
  }

  /** LISTENs for keeper steps on a connection of its own; reconnects (and catches up) when it is lost. */
  async #listen(): Promise<void> {
    if (this.#closed) return;
    const client = await this.#pool.connect();
    const lost = () => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.release(true);
      this.#listenLater(250);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => void this.refresh().catch(() => undefined));
    try {
      await client.query('LISTEN usher_tick');
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.#listener = client;
    // Whatever was published while not listening.
    await this.refresh();
  }

  #listenLater(delayMs: number): void {
    if (this.#closed || this.#listenRetry) return;
    // Wall-clock timers, not the injected clock: reconnecting is not a rule's business.
    this.#listenRetry = setTimeout(() => {
      this.#listenRetry = undefined;
      this.#listen().catch(() => this.#listenLater(Math.min(delayMs * 2, 5_000)));
    }, delayMs);
    this.#listenRetry.unref();
  }
}
