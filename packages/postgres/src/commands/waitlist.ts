import { EngineError, type WaitlistEntry } from '@usher/engine';
import {
  checkJoinWaitlist,
  decideGetWaitlistEntry,
  decideJoinWaitlist,
  decideLeaveWaitlist,
  waitlistView,
  type Decision,
  type PlacedEntry,
} from '@usher/engine/rules';
import { applyAll, applyKind, changesOf, type ApplyCall } from '../applies.js';
import { MAX_TRIES, type CommandRunner } from '../CommandRunner.js';
import { inTransaction, isConflict, onClient } from '../database.js';
import { expireHoldsById } from '../keeper/expireHolds.js';
import type { Facts } from '../LineMirror.js';
import { scheduleRecord, type ViewKind } from '../reads.js';
import { requireRouteRoom, routeConcertColumn, type RouteConcert } from '../roomRoutes.js';
import { scheduleFacts, waitlistRecord } from './offers.js';

/**
 * The waitlist's commands (SPEC §11, migration 9): join, read and leave
 * one's entry. Each reads its view in one statement, lets the shared rule
 * decide (`rules/waitlist.ts`) and applies the decision with its
 * `usher_apply` overload. A join runs in a transaction of its own, never in
 * a batch: it waits for its schedule's waitlist lock, and must hold nothing
 * else meanwhile (see migration 9's predicates), so it takes no user lock
 * either; its apply restates all the decision read (no seat for sale, the
 * list's length, the user's tickets) under that lock instead.
 */

/** The token's user's entry on the schedule `q.p1`, with its place, as JSON. */
const ENTRY = `(SELECT row_to_json(x) FROM (SELECT w.schedule_id, w.user_id, w.seq, w.quantity, w.offered, w.joined_at,
      usher_waitlist_position(w) AS position FROM waitlist w WHERE w.schedule_id = q.p1 AND w.user_id = tk.user_id) x) AS entry`;

export const WAITLIST_VIEWS = {
  join: {
    name: 'waitlistJoin',
    params: ['text'],
    // The seats for sale: the same count as every listing of free seats (usher_seats_for_sale).
    columns: `(SELECT record FROM schedules WHERE id = q.p1) AS schedule, ${routeConcertColumn('q.p1')},
      usher_seats_for_sale(q.p1, q.now) AS for_sale, ${ENTRY},
      (SELECT count(*) FROM waitlist w WHERE w.schedule_id = q.p1) AS length,
      usher_ticket_count(tk.user_id, q.p1, q.now) AS tickets,
      (SELECT array_agg(DISTINCT s.reservation_id) FROM reservation_seats s
        WHERE s.schedule_id = q.p1 AND usher_seat_live(s) AND NOT usher_seat_occupied(s, q.now)) AS overdue`,
  },
  entry: { name: 'waitlistEntry', params: ['text'], columns: ENTRY },
  // A watch's first view: the entry, and the offered holds live now (known already: not pushed), one snapshot.
  watch: {
    name: 'waitlistWatch',
    params: ['text'],
    columns: `${ENTRY}, (SELECT array_agg(r.id) FROM reservations r WHERE r.user_id = tk.user_id
      AND r.schedule_id = q.p1 AND usher_offered(r) AND usher_reservation_live(r)) AS offered`,
  },
} as const satisfies Record<string, ViewKind>;

/** An entry as a view reads it, with its place. */
export function placedEntry(
  json: Record<string, unknown> | null | undefined,
): PlacedEntry | undefined {
  if (!json) return undefined;
  return { record: waitlistRecord(json), position: Number(json['position']) };
}

/** `usher_waitlist_join`'s fields (migration 9). */
export interface JoinArgs {
  readonly now: number;
  readonly user_id: string;
  readonly token: string;
  /** The user's tickets of the schedule and the list's length, as the decision read them. */
  readonly tickets: number;
  readonly length: number;
  readonly schedule_id: string;
  readonly quantity: number;
  readonly joined_at: number;
}
export const JOIN = applyKind<JoinArgs>('usher_waitlist_join');

/** `usher_waitlist_leave`'s fields (migration 9). */
export interface LeaveArgs {
  readonly now: number;
  readonly user_id: string;
  readonly schedule_id: string;
  /** The seats offered to the entry, as the decision read them. */
  readonly offered: number;
}
export const LEAVE = applyKind<LeaveArgs>('usher_waitlist_leave');

export function joinApply(
  decision: Decision<unknown>,
  now: number,
  token: string,
  tickets: number,
  length: number,
): ApplyCall<JoinArgs> | undefined {
  const joined = changesOf(decision, ['waitlistJoined']).waitlistJoined;
  if (!joined) return undefined;
  const { entry } = joined;
  return {
    kind: JOIN,
    user: entry.userId,
    args: {
      now,
      user_id: entry.userId,
      token,
      tickets,
      length,
      schedule_id: entry.scheduleId,
      quantity: entry.quantity,
      joined_at: entry.joinedAt,
    },
  };
}

export function leaveApply(
  decision: Decision<WaitlistEntry>,
  now: number,
): ApplyCall<LeaveArgs> | undefined {
  const left = changesOf(decision, ['waitlistLeft']).waitlistLeft;
  if (!left) return undefined;
  return {
    kind: LEAVE,
    user: left.userId,
    args: {
      now,
      user_id: left.userId,
      schedule_id: left.scheduleId,
      offered: decision.answer.offered,
    },
  };
}

/**
 * Reads, decides and applies until the apply holds, each apply alone in a
 * transaction of its own (never batched, no user lock: see the module's
 * notes); `apply` answers the command from the apply's result.
 */
async function decideAlone<T>(
  runner: CommandRunner,
  attempt: () => Promise<{
    answer: T;
    apply?: ApplyCall<unknown>;
    applied?: (result: unknown) => T;
    /** Read again (something was done first). */
    again?: true;
  }>,
): Promise<T> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const { answer, apply, applied, again } = await attempt();
    if (again) continue;
    if (!apply) return answer;
    const [outcome] = await applyAll(runner.db, apply.kind, [apply]);
    if (outcome!.ok) return applied ? applied(outcome!.value) : answer;
    if (!isConflict(outcome!.error)) throw outcome!.error;
  }
  throw new EngineError('UNAVAILABLE', 'the waitlist kept changing; try again');
}

export function joinWaitlist(
  runner: CommandRunner,
  token: string,
  scheduleId: string,
  request?: { readonly quantity?: unknown },
): Promise<WaitlistEntry> {
  return runner.run(async (now) => {
    const command = checkJoinWaitlist(scheduleId, request, runner.config);
    return decideAlone(runner, async () => {
      const { facts, row } = await runner.view<{
        schedule: Record<string, unknown> | null;
        route_concert: RouteConcert | null;
        for_sale: string | null;
        entry: Record<string, unknown> | null;
        length: string | null;
        tickets: string | null;
        overdue: string[] | null;
      }>(token, now, WAITLIST_VIEWS.join, [command.scheduleId]);
      if (row.overdue && row.overdue.length > 0) {
        // Holds past their deadline, not expired yet: they expire first (their seats to the list, with
        // their offers), as the keeper's would, so "a seat for sale" means what it does on the embedded
        // engine (which expires holds at their deadline), and the join reads again.
        await onClient(runner.pool, (client) =>
          inTransaction(client, () =>
            expireHoldsById(client, row.overdue!, now, runner.lifecycles),
          ),
        ).catch((error: unknown) => {
          if (!isConflict(error)) throw error;
        });
        return { answer: undefined as never, again: true };
      }
      requireRouteRoom(facts.token, row.route_concert, now, runner.lifecycles);
      const record = row.schedule ? scheduleRecord(row.schedule) : undefined;
      const length = Number(row.length ?? 0);
      const tickets = Number(row.tickets ?? 0);
      const view = {
        ...facts,
        schedule: record && scheduleFacts(record),
        seatsForSale: Number(row.for_sale ?? 0),
        entry: placedEntry(row.entry),
        length,
        ticketsOfUser: tickets,
      };
      // The seq is the identity's, drawn by the apply under the schedule's waitlist lock.
      const decision = decideJoinWaitlist(view, command, now, runner.config, runner.lifecycles, 0);
      const apply = joinApply(decision, now, facts.token?.token ?? '', tickets, length);
      const joined = changesOf(decision, ['waitlistJoined']).waitlistJoined;
      return {
        answer: decision.answer,
        ...(apply ? { apply } : {}),
        ...(joined
          ? {
              applied: (result: unknown) => {
                const { seq, position } = result as { seq: number; position: number };
                return waitlistView({ ...joined.entry, seq: Number(seq) }, Number(position));
              },
            }
          : {}),
      };
    });
  });
}

/** The token's facts and its user's entry on the schedule. */
export async function readEntry(
  runner: CommandRunner,
  token: string,
  scheduleId: string,
  now: number,
): Promise<{ facts: Facts; entry: PlacedEntry | undefined }> {
  const { facts, row } = await runner.view<{ entry: Record<string, unknown> | null }>(
    token,
    now,
    WAITLIST_VIEWS.entry,
    [typeof scheduleId === 'string' ? scheduleId : ''],
  );
  return { facts, entry: placedEntry(row.entry) };
}

/** A watch's first view: the entry (`WAITLIST_NOT_FOUND` for none) and the offered holds live now. */
export function firstWatchedView(
  runner: CommandRunner,
  token: string,
  scheduleId: string,
): Promise<{ entry: WaitlistEntry; offered: readonly string[] }> {
  return runner.run(async (now) => {
    const { facts, row } = await runner.view<{
      entry: Record<string, unknown> | null;
      offered: string[] | null;
    }>(token, now, WAITLIST_VIEWS.watch, [typeof scheduleId === 'string' ? scheduleId : '']);
    const entry = decideGetWaitlistEntry({ ...facts, entry: placedEntry(row.entry) }, scheduleId);
    return { entry, offered: row.offered ?? [] };
  });
}

export function getWaitlistEntry(
  runner: CommandRunner,
  token: string,
  scheduleId: string,
): Promise<WaitlistEntry> {
  return runner.run(async (now) => {
    const view = await readEntry(runner, token, scheduleId, now);
    return decideGetWaitlistEntry({ ...view.facts, entry: view.entry }, scheduleId);
  });
}

export function leaveWaitlist(
  runner: CommandRunner,
  token: string,
  scheduleId: string,
): Promise<WaitlistEntry> {
  return runner.run(async (now) =>
    decideAlone(runner, async () => {
      const view = await readEntry(runner, token, scheduleId, now);
      const decision = decideLeaveWaitlist({ ...view.facts, entry: view.entry }, scheduleId);
      const apply = leaveApply(decision, now);
      return { answer: decision.answer, ...(apply ? { apply } : {}) };
    }),
  );
}
