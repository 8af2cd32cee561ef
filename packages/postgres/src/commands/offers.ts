import type { ReservationRecord, ScheduleRecord, WaitlistRecord } from '@usher/engine';
import {
  amountOf,
  categoryOf,
  decideOffers,
  priceOf,
  seatsOf,
  type FreedSeats,
  type Lifecycles,
  type ScheduleFacts,
  type StateChange,
} from '@usher/engine/rules';
import type { Queryable } from '../database.js';
import { compareText, scheduleRecord } from '../reads.js';
import { newId } from './issueToken.js';

/**
 * Seats freed go to the schedule's waitlist first (SPEC §11, migration 9):
 * whatever frees seats (a cancel, a refund, the keeper's expiry) reads the
 * head of the schedule's list beside its own view, lets the shared rule
 * (`decideOffers`) hand the seats out, and applies the offers with its own
 * change, in its transaction (`usher_offer`): the head must still be the
 * one read (under the schedule's waitlist lock, its rows locked in `seq`
 * order), every hold is inserted by key and every entry offered its seats,
 * or nothing is applied. Seats freed together (an order's seats) are
 * handed out by one call, each entry taking one seat at least: the first
 * `k` entries are all `k` freed seats can reach, so the head read is those.
 */

/**
 * How many entries past one per seat freed the head read takes: the rule hands the seats of the one
 * who gave them up (a refund's holder, a cancelled or lapsed offer's owner) to the others first, so
 * with the giver among the first `k` entries, the `k + 1`-th is reachable too.
 */
export const WAITLIST_HEAD_EXTRA = 1;

/** The entry columns a view or the keeper reads. */
const ENTRY_COLUMNS = 'schedule_id, user_id, seq, quantity, offered, joined_at';

/**
 * View columns: `waitlist_schedule`, the record of the schedule `schedule`
 * (an SQL expression), and `waitlist_head`, the first `limit` (an SQL
 * expression: the seats freed) entries of its list in `seq` order.
 */
export function waitlistHeadColumns(schedule: string, limit: string): string {
  return `(SELECT record FROM schedules WHERE id = ${schedule}) AS waitlist_schedule,
      (SELECT json_agg(row_to_json(w) ORDER BY w.seq) FROM (SELECT ${ENTRY_COLUMNS} FROM waitlist
         WHERE schedule_id = ${schedule} ORDER BY seq LIMIT ${limit}) w) AS waitlist_head`;
}

/** An entry row as the rules' record. */
export function waitlistRecord(row: Record<string, unknown>): WaitlistRecord {
  return {
    scheduleId: String(row['schedule_id']),
    userId: String(row['user_id']),
    seq: Number(row['seq']),
    quantity: Number(row['quantity']),
    offered: Number(row['offered']),
    joinedAt: Number(row['joined_at']),
  };
}

/** A schedule's record as the rules price its seats (the same facts as a reserve's). */
export function scheduleFacts(record: ScheduleRecord): ScheduleFacts {
  return {
    id: record.id,
    totalSeats: record.totalSeats,
    priceOf: (seatNo: number) => priceOf(record.prices, seatNo),
    categoryOf: (seatNo: number) => categoryOf(record.prices, seatNo),
  };
}

/** The head of a list as a view read it (`waitlist_schedule`, `waitlist_head`). */
export interface HeadRow {
  readonly waitlist_schedule: Record<string, unknown> | null;
  readonly waitlist_head: Record<string, unknown>[] | null;
}

/** `usher_offer`'s arguments (migration 9): the head as read, the holds offered, the seats each entry gets. */
export interface OfferArgs {
  readonly schedule_id: string;
  /** How many entries the head read could hold (the seats freed). */
  readonly head: number;
  readonly entries: readonly {
    user_id: string;
    seq: number;
    quantity: number;
    offered: number;
  }[];
  readonly holds: readonly Record<string, unknown>[];
  readonly offers: readonly { user_id: string; seats: number }[];
}

/**
 * What seats freed on one schedule become: the offers `decideOffers` makes
 * for each freeing in turn (`freed`, in the order they happened; each sees
 * the entries as the earlier ones left them), and the arguments that apply
 * them. `head` is the list's head as read (at least as many entries as seats
 * freed, or the whole list).
 */
export function offersOf(
  scheduleId: string,
  freed: readonly FreedSeats[],
  head: readonly WaitlistRecord[],
  schedule: ScheduleFacts | undefined,
  now: number,
  lifecycles: Lifecycles,
): { changes: StateChange[]; args: OfferArgs } {
  const seats = freed.reduce((sum, one) => sum + new Set(one.seatNos).size, 0);
  const args = {
    schedule_id: scheduleId,
    head: seats + WAITLIST_HEAD_EXTRA,
    entries: head.map((entry) => ({
      user_id: entry.userId,
      seq: entry.seq,
      quantity: entry.quantity,
      offered: entry.offered,
    })),
  };
  const changes: StateChange[] = [];
  if (head.length === 0 || !schedule) return { changes, args: { ...args, holds: [], offers: [] } };
  let entries = head.map((entry) => ({ ...entry }));
  for (const one of freed) {
    const offered = decideOffers(one, entries, schedule, now, lifecycles, newId);
    for (const change of offered)
      if (change.type === 'waitlistOffered') {
        entries = entries
          .map((entry) =>
            entry.userId === change.userId
              ? { ...entry, offered: entry.offered + change.seats }
              : entry,
          )
          .filter((entry) => entry.offered < entry.quantity);
      }
    changes.push(...offered);
  }
  const holds: Record<string, unknown>[] = [];
  const seatsOfUser = new Map<string, number>();
  const held = new Map<string, ReservationRecord>();
  for (const change of changes) {
    if (change.type === 'reservationHeld') {
      const hold = change.reservation;
      if (hold.scheduleId !== scheduleId || hold.origin !== 'waitlist')
        throw new Error('an offer is a hold of the schedule whose seats were freed');
      held.set(hold.id, hold);
      holds.push({
        id: hold.id,
        user_id: hold.userId,
        seat_no: hold.seatNo,
        price: hold.price,
        seats: seatsOf(hold),
        amount: amountOf(hold),
        status: hold.status,
        created_at: hold.createdAt,
        expires_at: hold.expiresAt,
      });
    } else if (change.type === 'waitlistOffered') {
      const hold = held.get(change.reservationId);
      if (!hold || hold.userId !== change.userId || seatsOf(hold).length !== change.seats)
        throw new Error('an offer comes with its own hold');
      seatsOfUser.set(change.userId, (seatsOfUser.get(change.userId) ?? 0) + change.seats);
    } else throw new Error(`an offer cannot carry out a change of type ${change.type}`);
  }
  const offers = [...seatsOfUser].map(([user_id, seats]) => ({ user_id, seats }));
  return { changes, args: { ...args, holds, offers } };
}

/**
 * The keeper's offers (inside its step's transaction, after the holds due
 * expired): the seats each expiry freed, by schedule (in schedule order,
 * the waitlist locks taken in that order), each schedule's head read
 * locked, decided, applied. Answers how many holds were offered.
 */
export async function offerFreedSeats(
  db: Queryable,
  now: number,
  lifecycles: Lifecycles,
  freed: readonly FreedSeats[],
): Promise<number> {
  const bySchedule = new Map<string, FreedSeats[]>();
  for (const one of freed) {
    const list = bySchedule.get(one.scheduleId) ?? [];
    list.push(one);
    bySchedule.set(one.scheduleId, list);
  }
  if (bySchedule.size === 0) return 0;
  const ids = [...bySchedule.keys()].sort(compareText);
  const limits = ids.map(
    (id) =>
      bySchedule.get(id)!.reduce((sum, one) => sum + new Set(one.seatNos).size, 0) +
      WAITLIST_HEAD_EXTRA,
  );
  // One statement: each schedule's waitlist lock (shared) and head (rows locked), in schedule order.
  const { rows } = await db.query<{ id: string } & HeadRow>(
    `SELECT f.id,
            (SELECT json_agg(row_to_json(h) ORDER BY h.seq) FROM usher_waitlist_head(f.id, f.n) h) AS waitlist_head,
            (SELECT record FROM schedules WHERE id = f.id) AS waitlist_schedule
       FROM unnest($1::text[], $2::integer[]) AS f (id, n)`,
    [ids, limits],
  );
  let offered = 0;
  for (const row of rows) {
    const head = (row.waitlist_head ?? []).map(waitlistRecord);
    if (head.length === 0) continue;
    const schedule = row.waitlist_schedule
      ? scheduleFacts(scheduleRecord(row.waitlist_schedule))
      : undefined;
    const { args } = offersOf(row.id, bySchedule.get(row.id)!, head, schedule, now, lifecycles);
    if (args.offers.length === 0) continue;
    await db.query('SELECT usher_offer($1, $2, $3::json, $4::json, $5::json)', [
      args.schedule_id,
      args.head,
      JSON.stringify(args.entries),
      JSON.stringify(args.holds),
      JSON.stringify(args.offers),
    ]);
    offered += args.holds.length;
  }
  return offered;
}

/** The head of a list as a view read it, as records, and its schedule's facts. */
export function headOf(row: Partial<HeadRow>): {
  head: WaitlistRecord[];
  schedule: ScheduleFacts | undefined;
} {
  return {
    head: (row.waitlist_head ?? []).map(waitlistRecord),
    schedule: row.waitlist_schedule
      ? scheduleFacts(scheduleRecord(row.waitlist_schedule))
      : undefined,
  };
}
