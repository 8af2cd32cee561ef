import type { Catalog } from '../catalog/Catalog.js';
import type { EngineConfig } from '../config.js';
import type { HoldBook } from '../holds/HoldBook.js';
import { newId } from '../ids.js';
import type { Lifecycles } from '../machines/lifecycles.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { CounterRecord, WaitlistRecord } from '../persistence/records.js';
import type { Decision, StateChange, TokenState } from '../rules/changes.js';
import type { TokenFacts } from '../rules/queue.js';
import {
  checkJoinWaitlist,
  decideGetWaitlistEntry,
  decideJoinWaitlist,
  decideLeaveWaitlist,
  decideOffers,
  waitlistView,
  type FreedSeats,
  type PlacedEntry,
} from '../rules/waitlist.js';
import type { WaitlistEntry } from '../types.js';
import { reservationView } from '../views.js';
import type { WaitlistUpdate } from '../watch/WaitlistWatchers.js';
import { waitlistKey } from '../watch/WaitlistWatchers.js';
import type { CommandOf } from './commands.js';

/** What the waitlist commands use of the supervisor's state. */
export interface WaitlistDeskParts {
  readonly config: EngineConfig;
  readonly lifecycles: Lifecycles;
  readonly catalog: Catalog;
  readonly holds: HoldBook;
  /** The command's token as the rules see it (the supervisor's `#tokenFacts`). */
  readonly tokenFacts: (token: unknown) => TokenFacts & { readonly token: TokenState | undefined };
  /** `TOKEN_WRONG_ROOM` unless the token is of the schedule's concert's room (as for reserve). */
  readonly requireRoomOfSchedule: (token: unknown, scheduleId: string) => void;
  /** The user's held seats plus live tickets of a schedule (`ticketsOf`). */
  readonly ticketsOfUser: (userId: string, scheduleId: string) => number;
  /** Applies a decision's changes (the supervisor's `#decided`), answers its answer. */
  readonly decided: <A>(decision: Decision<A>, tx: ChangeSet) => A;
  /** The time of the command being handled. */
  readonly now: () => number;
}

type WaitlistChange = Extract<
  StateChange,
  { type: 'waitlistJoined' | 'waitlistLeft' | 'waitlistOffered' }
>;

/**
 * The waitlists of the embedded engine (SPEC §11, "Waitlist"): each
 * schedule's entries in `seq` order, in memory and in the journal
 * (collection `waitlist`, the next `seq` in `counters`), like everything the
 * supervisor owns. Seats freed anywhere (a hold's expiry or cancel, a
 * refund) come to {@link offer} in the change set that frees them, which
 * hands them out by `decideOffers`. What changed for watched entries is kept
 * for the engine to push once it is durable ({@link takeUpdates}).
 */
export class WaitlistDesk {
  readonly #parts: WaitlistDeskParts;
  /** Each schedule's entries, in `seq` order. */
  readonly #lists = new Map<string, WaitlistRecord[]>();
  #nextSeq = 1;
  /** Entries someone watches (`waitlistKey`). */
  readonly #watched = new Set<string>();
  /** Schedules whose lists changed in the command being handled, and offers made in it. */
  readonly #touched = new Set<string>();
  #updates: WaitlistUpdate[] = [];

  constructor(parts: WaitlistDeskParts) {
    this.#parts = parts;
  }

  join({ token, scheduleId, request }: CommandOf<'joinWaitlist'>, tx: ChangeSet): WaitlistEntry {
    const { config, lifecycles, catalog } = this.#parts;
    const command = checkJoinWaitlist(scheduleId, request as { quantity?: unknown }, config);
    const facts = this.#parts.tokenFacts(token);
    const schedule = catalog.schedule(command.scheduleId);
    if (schedule) this.#parts.requireRoomOfSchedule(token, command.scheduleId);
    const userId = facts.token?.userId;
    const view = {
      ...facts,
      schedule,
      seatsForSale: schedule?.seats.availableCount ?? 0,
      entry: userId === undefined ? undefined : this.#placed(command.scheduleId, userId),
      length: this.#lists.get(command.scheduleId)?.length ?? 0,
      ticketsOfUser:
        userId === undefined ? 0 : this.#parts.ticketsOfUser(userId, command.scheduleId),
    };
    return this.#parts.decided(
      decideJoinWaitlist(view, command, this.#parts.now(), config, lifecycles, this.#nextSeq),
      tx,
    );
  }

  get({ token, scheduleId }: CommandOf<'getWaitlistEntry'>): WaitlistEntry {
    return decideGetWaitlistEntry(this.#entryView(token, scheduleId), scheduleId);
  }

  leave({ token, scheduleId }: CommandOf<'leaveWaitlist'>, tx: ChangeSet): WaitlistEntry {
    return this.#parts.decided(
      decideLeaveWaitlist(this.#entryView(token, scheduleId), scheduleId),
      tx,
    );
  }

  /** Starts reporting the token's user's entry (`WAITLIST_NOT_FOUND` for none): answers it now. */
  watch({ token, scheduleId }: CommandOf<'watchWaitlist'>): WaitlistEntry {
    const entry = this.get({ type: 'getWaitlistEntry', token, scheduleId });
    this.#watched.add(waitlistKey(entry.scheduleId, entry.userId));
    return entry;
  }

  unwatch({ scheduleId, userId }: CommandOf<'unwatchWaitlist'>): null {
    this.#watched.delete(waitlistKey(scheduleId, userId));
    return null;
  }

  /**
   * Seats of one schedule freed together, in the change set that frees them:
   * `decideOffers` hands them to the schedule's entries in order, as holds.
   */
  offer(freed: FreedSeats, tx: ChangeSet): void {
    const entries = this.#lists.get(freed.scheduleId);
    if (!entries || entries.length === 0) return;
    const schedule = this.#parts.catalog.schedule(freed.scheduleId)!;
    const changes = decideOffers(
      freed,
      entries,
      schedule,
      this.#parts.now(),
      this.#parts.lifecycles,
      newId,
    );
    this.#parts.decided({ changes, answer: null }, tx);
  }

  apply(change: WaitlistChange, tx: ChangeSet): void {
    switch (change.type) {
      case 'waitlistJoined': {
        const entry = { ...change.entry };
        const list = this.#lists.get(entry.scheduleId) ?? [];
        list.push(entry);
        this.#lists.set(entry.scheduleId, list);
        this.#nextSeq = Math.max(this.#nextSeq, entry.seq + 1);
        tx.put('waitlist', String(entry.seq), entry);
        tx.put('counters', 'waitlistSeq', { value: this.#nextSeq });
        return;
      }
      case 'waitlistLeft':
        return this.#remove(change.scheduleId, change.userId, tx);
      case 'waitlistOffered': {
        const entry = this.#find(change.scheduleId, change.userId);
        if (!entry || entry.offered + change.seats > entry.quantity)
          throw new Error(
            `no entry of ${change.userId} on ${change.scheduleId} takes ${change.seats}`,
          );
        entry.offered += change.seats;
        const reservation = this.#parts.holds.find(change.reservationId);
        if (reservation && this.#watched.has(waitlistKey(change.scheduleId, change.userId)))
          this.#updates.push({
            scheduleId: change.scheduleId,
            userId: change.userId,
            reservation: reservationView(reservation),
          });
        if (entry.offered === entry.quantity)
          return this.#remove(change.scheduleId, change.userId, tx);
        this.#touched.add(change.scheduleId);
        tx.put('waitlist', String(entry.seq), entry);
        return;
      }
    }
  }

  /**
   * What changed for watched entries in the command just handled: offered
   * holds, then each watched entry of a list that changed as it is now
   * (`entry: undefined` when it is gone). For the engine to push once durable.
   */
  takeUpdates(): WaitlistUpdate[] {
    // Nobody watches: no list needs walking (a position costs O(list) to restate).
    if (this.#watched.size === 0) this.#touched.clear();
    for (const scheduleId of this.#touched) {
      const list = this.#lists.get(scheduleId) ?? [];
      list.forEach((record, i) => {
        const key = waitlistKey(scheduleId, record.userId);
        if (this.#watched.has(key))
          this.#updates.push({
            scheduleId,
            userId: record.userId,
            entry: waitlistView(record, i + 1),
          });
      });
    }
    this.#touched.clear();
    const updates = this.#updates;
    this.#updates = [];
    return updates;
  }

  /** Forgets what a faulted command changed for watchers. */
  dropUpdates(): void {
    this.#touched.clear();
    this.#updates = [];
  }

  /** Entries and the next `seq` from a store (before the holds, whose expiries hand seats out). */
  restore(records: Iterable<WaitlistRecord>, nextSeq: CounterRecord | undefined): void {
    const sorted = [...records].sort((a, b) => a.seq - b.seq);
    for (const record of sorted) {
      const list = this.#lists.get(record.scheduleId) ?? [];
      list.push({ ...record });
      this.#lists.set(record.scheduleId, list);
      this.#nextSeq = Math.max(this.#nextSeq, record.seq + 1);
    }
    this.#nextSeq = Math.max(this.#nextSeq, nextSeq?.value ?? 1);
  }

  #remove(scheduleId: string, userId: string, tx: ChangeSet): void {
    const list = this.#lists.get(scheduleId);
    const i = list?.findIndex((entry) => entry.userId === userId) ?? -1;
    if (!list || i < 0) throw new Error(`no entry of ${userId} on ${scheduleId} to remove`);
    const [entry] = list.splice(i, 1);
    if (list.length === 0) this.#lists.delete(scheduleId);
    tx.delete('waitlist', String(entry!.seq));
    this.#touched.add(scheduleId);
    const key = waitlistKey(scheduleId, userId);
    if (this.#watched.delete(key)) this.#updates.push({ scheduleId, userId, entry: undefined });
  }

  #find(scheduleId: string, userId: string): WaitlistRecord | undefined {
    return this.#lists.get(scheduleId)?.find((entry) => entry.userId === userId);
  }

  /** The user's entry with its place (O(list length)). */
  #placed(scheduleId: string, userId: string): PlacedEntry | undefined {
    const list = this.#lists.get(scheduleId);
    const i = list?.findIndex((entry) => entry.userId === userId) ?? -1;
    return i < 0 ? undefined : { record: list![i]!, position: i + 1 };
  }

  #entryView(token: unknown, scheduleId: unknown) {
    const facts = this.#parts.tokenFacts(token);
    const userId = facts.token?.userId;
    return {
      ...facts,
      entry:
        userId === undefined || typeof scheduleId !== 'string'
          ? undefined
          : this.#placed(scheduleId, userId),
    };
  }
}
