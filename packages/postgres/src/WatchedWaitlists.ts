import type { WaitlistEntry, WaitlistWatcher } from '@usher/engine';
import { reservationView, waitlistView } from '@usher/engine/rules';
import type { CommandRunner } from './CommandRunner.js';
import { placedEntry } from './commands/waitlist.js';
import { query } from './database.js';
import { RESERVATION_COLUMNS, reservationRecord } from './reads.js';
import { Rerun } from './Rerun.js';

/** One watched entry: its watchers, what they were told last, the offered holds already pushed. */
interface Watched {
  readonly scheduleId: string;
  readonly userId: string;
  readonly watchers: Set<WaitlistWatcher>;
  last: WaitlistEntry;
  readonly pushed: Set<string>;
}

/** A watched user's entry and live offered holds of the schedule, as the watchers' query reads them. */
type Row = {
  user_id: string;
  entry: Record<string, unknown> | null;
  offered: Record<string, unknown>[] | null;
};

/**
 * This instance's waitlist watchers (SPEC §11, "their event stream"). Every
 * change to a list that moves its entries (an offer, a leave) is NOTIFY'd
 * on `usher_waitlist` with the schedule, in the transaction that made it,
 * so every gateway hears it once it commits, whichever gateway or keeper
 * made it. On hearing it, this instance reads its watched entries of that
 * schedule, and their users' live offered holds of it, in one statement,
 * and pushes what is new: each hold not pushed yet (`reservation`), then
 * the entry if it changed (`entry`), or `undefined` once it is gone
 * (fulfilled or left), which ends the watch. When the LISTEN connection
 * was lost, every watched schedule is read again once it is back.
 */
export class WatchedWaitlists {
  readonly #runner: CommandRunner;
  /** Watched entries by schedule, then user. */
  readonly #bySchedule = new Map<string, Map<string, Watched>>();
  /** Schedules heard of and not read yet, and the one read at a time. */
  readonly #due = new Set<string>();
  readonly #refresh = new Rerun(() => this.#update());

  constructor(runner: CommandRunner) {
    this.#runner = runner;
  }

  /** Entries watched. */
  get size(): number {
    let size = 0;
    for (const users of this.#bySchedule.values()) size += users.size;
    return size;
  }

  /**
   * Watches the entry `first` reads (the user's, now; it throws
   * `WAITLIST_NOT_FOUND` for none): told at once, then at every change.
   * Offered holds live at the start are known already (not pushed).
   */
  async watch(
    watcher: WaitlistWatcher,
    first: () => Promise<{ entry: WaitlistEntry; offered: readonly string[] }>,
  ): Promise<() => void> {
    const { entry, offered } = await first();
    const { scheduleId, userId } = entry;
    let users = this.#bySchedule.get(scheduleId);
    if (!users) this.#bySchedule.set(scheduleId, (users = new Map()));
    let watched = users.get(userId);
    if (!watched) {
      watched = { scheduleId, userId, watchers: new Set(), last: entry, pushed: new Set() };
      users.set(userId, watched);
    }
    for (const id of offered) watched.pushed.add(id);
    watched.watchers.add(watcher);
    watcher.entry(entry);
    // Anything that changed while the first view was read.
    this.heard(scheduleId);
    const current = watched;
    return () => this.#unwatch(current, watcher);
  }

  /** A list changed (a notification): its watched entries are read again. */
  heard(scheduleId: string): void {
    if (!this.#bySchedule.has(scheduleId)) return;
    this.#due.add(scheduleId);
    void this.#refresh.run().catch(() => undefined);
  }

  /** The LISTEN connection is (back) up: whatever was missed, for every watched schedule. */
  listening(): void {
    for (const scheduleId of this.#bySchedule.keys()) this.heard(scheduleId);
  }

  /** Ends every watch (the engine is closing). */
  endAll(): void {
    for (const users of this.#bySchedule.values())
      for (const watched of users.values())
        for (const watcher of watched.watchers) {
          try {
            watcher.end?.();
          } catch {
            // A watcher's fault is its own.
          }
        }
    this.#bySchedule.clear();
    this.#due.clear();
  }

  #unwatch(watched: Watched, watcher: WaitlistWatcher): void {
    watched.watchers.delete(watcher);
    if (watched.watchers.size > 0) return;
    const users = this.#bySchedule.get(watched.scheduleId);
    if (users?.get(watched.userId) !== watched) return;
    users.delete(watched.userId);
    if (users.size === 0) this.#bySchedule.delete(watched.scheduleId);
  }

  async #update(): Promise<void> {
    const due = [...this.#due];
    this.#due.clear();
    for (const scheduleId of due) {
      const users = this.#bySchedule.get(scheduleId);
      if (!users || users.size === 0) continue;
      const { rows } = await query<Row>(
        this.#runner.pool,
        `SELECT u.user_id,
                (SELECT row_to_json(x) FROM (SELECT w.schedule_id, w.user_id, w.seq, w.quantity, w.offered, w.joined_at,
                        usher_waitlist_position(w) AS position
                   FROM waitlist w WHERE w.schedule_id = $1 AND w.user_id = u.user_id) x) AS entry,
                (SELECT json_agg(row_to_json(h) ORDER BY h.created_at, h.id) FROM (SELECT ${RESERVATION_COLUMNS}
                   FROM reservations r WHERE r.user_id = u.user_id AND r.schedule_id = $1
                    AND usher_offered(r) AND usher_reservation_live(r)) h) AS offered
           FROM unnest($2::text[]) AS u (user_id)`,
        [scheduleId, [...users.keys()]],
      );
      for (const row of rows) {
        const watched = users.get(row.user_id);
        if (!watched) continue;
        const deliver = (tell: (watcher: WaitlistWatcher) => void) => {
          for (const watcher of [...watched.watchers]) {
            try {
              tell(watcher);
            } catch {
              // A watcher's fault is its own.
            }
          }
        };
        for (const json of row.offered ?? []) {
          const hold = reservationRecord(json);
          if (watched.pushed.has(hold.id)) continue;
          watched.pushed.add(hold.id);
          deliver((watcher) => watcher.reservation(reservationView(hold)));
        }
        const placed = placedEntry(row.entry);
        if (!placed) {
          users.delete(row.user_id);
          deliver((watcher) => watcher.entry(undefined));
          continue;
        }
        const entry = waitlistView(placed.record, placed.position);
        if (JSON.stringify(entry) === JSON.stringify(watched.last)) continue;
        watched.last = entry;
        deliver((watcher) => watcher.entry(entry));
      }
      if (users.size === 0) this.#bySchedule.delete(scheduleId);
    }
  }
}
