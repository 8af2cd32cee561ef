import type { QueueToken, TokenWatcher } from '@usher/engine';
import {
  DEFAULT_ROOM,
  TokenWatchers,
  tokenView,
  watchUpdate,
  type WatchedNow,
} from '@usher/engine/rules';
import type { CommandRunner } from './CommandRunner.js';
import { query } from './database.js';
import { NOWHERE } from './LineMirror.js';
import { tokenState, type TokenRow } from './reads.js';
import { Rerun } from './Rerun.js';

/**
 * This instance's token watchers (the event streams): who watches which
 * token, what each was told last, and after every step this instance
 * applies, what changed for them, from one query for all of them (which also
 * records their polls: a watched token is not abandoned) and positions from
 * memory.
 */
export class WatchedTokens {
  readonly #runner: CommandRunner;
  readonly #watchers: TokenWatchers;
  /** Watched waiting tokens, with what their watchers were last told. */
  readonly #watched = new Map<string, QueueToken>();
  readonly #pollSlackMs: number;
  readonly #refresh = new Rerun(() => this.#update(this.#runner.clock.now()));

  constructor(runner: CommandRunner, pollSlackMs: number) {
    this.#runner = runner;
    this.#pollSlackMs = pollSlackMs;
    this.#watchers = new TokenWatchers((token) => this.#watched.delete(token));
  }

  /** Tokens with a watcher. */
  get size(): number {
    return this.#watchers.size;
  }

  /** Watches `token`; `first` reads its view now (a poll), as a command. */
  watch(
    token: string,
    watcher: TokenWatcher,
    first: () => Promise<QueueToken>,
  ): Promise<() => void> {
    return this.#watchers.watch(token, watcher, async () => {
      const before = this.#runner.line.applied;
      const view = await first();
      if (view.status === 'waiting') {
        this.#watched.set(token, view);
        // A step applied while the view was read may have moved the token: look again, after the first view is out.
        if (this.#runner.line.applied !== before) void this.refresh().catch(() => undefined);
      }
      return view;
    });
  }

  /** Ends every watch (the engine is closing). */
  endAll(): void {
    this.#watchers.endAll();
    this.#watched.clear();
  }

  /** Tells watchers what changed since they were told. One at a time; a call meanwhile runs once more after. */
  refresh(): Promise<void> {
    return this.#watched.size === 0 ? Promise.resolve() : this.#refresh.run();
  }

  async #update(now: number): Promise<void> {
    const tokens = [...this.#watched.keys()];
    if (tokens.length === 0) return;
    const { config, lifecycles, line } = this.#runner;
    const { rows } = await query<TokenRow>(
      this.#runner.pool,
      `WITH touched AS MATERIALIZED (SELECT usher_record_polls($1, $2, $3, $4) AS token)
       SELECT t.token, t.user_id, t.status, t.seq, t.line, t.issued_at, t.expires_at, t.reason, t.room,
              CASE WHEN u.token IS NULL THEN t.last_seen_at ELSE $2 END AS last_seen_at,
              (SELECT usher_last_tick()) AS tick,
              CASE WHEN usher_arrival(t) THEN usher_gone_below(t.seq, $2, $3) END AS gone_below
         FROM tokens t LEFT JOIN touched u USING (token)
        WHERE t.token = ANY ($1)`,
      [tokens, now, config.queueWaitingTtlMs, this.#pollSlackMs],
    );
    const byToken = new Map(rows.map((row) => [row.token!, row]));
    if (rows.some((row) => Number(row.tick) > line.applied)) {
      // The line moved after the last refresh: the next refresh comes back here.
      this.#refresh.again();
      void line.refresh().catch(() => undefined);
    }
    const updates: QueueToken[] = [];
    for (const token of tokens) {
      const last = this.#watched.get(token);
      if (!last) continue;
      const row = byToken.get(token);
      const state = tokenState(row, now, config, lifecycles);
      let current: WatchedNow;
      if (state?.status === 'waiting') {
        const place = line.placeNow(row!, now);
        if (!place) continue; // the refresh under way comes back here
        const lastSeenAt = Number(row!.last_seen_at);
        current = { place, view: () => tokenView(state, place, lastSeenAt, config) };
      } else if (state?.status === 'active') {
        current = { view: tokenView(state, NOWHERE, Number(row!.last_seen_at), config) };
      }
      const room = line.roomState(row?.room ?? DEFAULT_ROOM) ?? line.room;
      const view = watchUpdate(last, current, room.soldOut);
      if (view === undefined) continue;
      updates.push(view);
      if (view.status === 'waiting') this.#watched.set(token, view);
      else this.#watched.delete(token);
    }
    this.#watchers.deliver(updates);
  }
}
