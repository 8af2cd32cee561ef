import type { EngineConfig } from '@usher/engine';
import {
  DEFAULT_ROOM,
  placeBeforeOpening,
  type Lifecycles,
  type Place,
  type RoomState,
  type TokenFacts,
} from '@usher/engine/rules';
import type pg from 'pg';
import { onClient, query, unavailable } from './database.js';
import { runStep } from './keeper/step.js';
import { QueueMirror, roomTick, TICK_COLUMNS, tickRow, type TickRow } from './QueueMirror.js';
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
  /** One mirror per room, the default room's always; a room of a concert's from the first step that publishes it. */
  readonly #mirrors = new Map<string, QueueMirror>();
  #listener: pg.PoolClient | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  readonly #refresh: Rerun;
  #catchingUp: Promise<void> | undefined;
  #closed = false;
  /** Other channels heard on the same connection, and what to do once (re)connected (see the constructor). */
  readonly #channels: Readonly<Record<string, (payload: string) => void>>;
  readonly #listening: () => void;

  /**
   * `channels`: other notifications to hear on the LISTEN connection (the
   * waitlist's, migration 9), each with its handler; `listening` runs each
   * time that connection is (re)opened, for what was missed meanwhile.
   */
  constructor(options: {
    pool: pg.Pool;
    config: EngineConfig;
    lifecycles: Lifecycles;
    moved: () => Promise<void>;
    channels?: Readonly<Record<string, (payload: string) => void>>;
    listening?: () => void;
  }) {
    this.#channels = options.channels ?? {};
    this.#listening = options.listening ?? (() => undefined);
    this.#pool = options.pool;
    this.#config = options.config;
    this.#lifecycles = options.lifecycles;
    this.#mirrors.set(DEFAULT_ROOM, new QueueMirror(options.config));
    this.#refresh = new Rerun(() => this.#applySteps(), options.moved);
  }

  /** The default room's mirror. */
  get #mirror(): QueueMirror {
    return this.#mirrors.get(DEFAULT_ROOM)!;
  }

  /** The default room as of the last step applied. */
  get room(): RoomState {
    return this.#mirror.room;
  }

  /** A room as of the last step applied (`undefined`: no step has published it yet). */
  roomState(roomId: string): RoomState | undefined {
    return this.#mirrors.get(roomId)?.room;
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
      const mirror = this.#mirrors.get(row!.room ?? DEFAULT_ROOM);
      // A room no step has published yet: one does now.
      if (!mirror || mirror.needsCatchUp(now, this.#config.queueTickMs)) {
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
    const mirror = this.#mirrors.get(row.room ?? DEFAULT_ROOM);
    if (!mirror) return undefined;
    // Joined with a presale code: its rank among those, at the head of the line (also before the opening).
    if (row.priority && row.status === 'waiting')
      return this.#place(mirror, Number(row.priority_ahead ?? 0) + 1);
    if (mirror.room.pendingOpening) return this.#beforeOpening(mirror, now);
    if (row.line === null) {
      if (Number(row.tick) !== mirror.applied) return undefined;
      return this.#arrived(mirror, Number(row.seq), Number(row.gone_below ?? 0));
    }
    const line = Number(row.line);
    if (line > mirror.line.end) return undefined;
    const position = mirror.rank(line);
    return position === 0 ? undefined : this.#place(mirror, position);
  }

  /** A token just issued waiting in `roomId`: its place, or `undefined` when it was issued against another step than the one applied. */
  async arrivalPlace(
    arrival: Arrival,
    now: number,
    roomId: string = DEFAULT_ROOM,
  ): Promise<Place | undefined> {
    if (arrival.tick > this.#mirror.applied) await this.refresh();
    const mirror = this.#mirrors.get(roomId);
    if (!mirror || arrival.tick !== mirror.applied) return undefined;
    return mirror.room.pendingOpening
      ? this.#beforeOpening(mirror, now)
      : this.#arrived(mirror, arrival.seq, arrival.gone);
  }

  /**
   * A token without a line: after everyone in its room's line and the
   * arrivals numbered before it, less those abandoned. Numbers are drawn for
   * every room from one sequence, so with rooms of concerts this counts the
   * other rooms' arrivals since the last step too: too high until the next
   * step, never too low.
   */
  #arrived(mirror: QueueMirror, seq: number, gone: number): Place {
    return this.#place(mirror, mirror.line.size + seq - mirror.seqEnd - gone);
  }

  #place(mirror: QueueMirror, position: number): Place {
    return { position, estimatedWaitSeconds: mirror.rate.secondsFor(position) };
  }

  /** A waiting token's place while its room waits for its opening (the line as of the last step is the crowd). */
  #beforeOpening(mirror: QueueMirror, now: number): Place {
    return placeBeforeOpening(mirror.room, now, mirror.line.size, mirror.rate);
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
        if (!this.#apply(tickRow(row, this.#config))) return this.#reload();
      }
      if (rows.length < 1000) return;
    }
  }

  /** Applies one step to every room's mirror; `false` when it is not the next one (the caller reloads). */
  #apply(row: TickRow): boolean {
    for (const id of Object.keys(row.rooms ?? {})) {
      if (this.#mirrors.has(id)) continue;
      const mirror = new QueueMirror(this.#config, row.rooms![id]!.room);
      mirror.startAt(row);
      this.#mirrors.set(id, mirror);
    }
    for (const [id, mirror] of this.#mirrors) {
      const part = roomTick(row, id);
      if (part === undefined) mirror.skip(row);
      else if (!mirror.apply(part)) return false;
    }
    return true;
  }

  /** Rebuilds every room's line from the tokens and the last step, in one snapshot: at start, or after falling too far behind. */
  async #reload(): Promise<void> {
    const { rows } = await query<{
      last: Record<string, unknown> | null;
      lines: Record<string, number[]> | null;
    }>(
      this.#pool,
      `SELECT (SELECT row_to_json(q) FROM (SELECT ${TICK_COLUMNS} FROM queue_ticks ORDER BY no DESC LIMIT 1) q) AS last,
              (SELECT json_object_agg(room, lines) FROM (
                 SELECT room, array_agg(line ORDER BY line) AS lines FROM tokens
                  WHERE status = 'waiting' AND line IS NOT NULL GROUP BY room) l) AS lines`,
      [],
    );
    const last = rows[0]!.last ? tickRow(rows[0]!.last, this.#config) : undefined;
    const lines = rows[0]!.lines ?? {};
    const ids = [DEFAULT_ROOM, ...Object.keys(last?.rooms ?? {})];
    for (const id of ids) {
      const part = last ? roomTick(last, id) : undefined;
      const mirror =
        this.#mirrors.get(id) ?? new QueueMirror(this.#config, part?.room ?? this.room);
      this.#mirrors.set(id, mirror);
      mirror.load(part, (lines[id] ?? []).map(Number));
    }
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
    client.on('notification', (message) => {
      const other = message.channel === 'usher_tick' ? undefined : this.#channels[message.channel];
      if (other) other(message.payload ?? '');
      else void this.refresh().catch(() => undefined);
    });
    try {
      await client.query('LISTEN usher_tick');
      for (const channel of Object.keys(this.#channels)) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.#listener = client;
    this.#listening();
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
