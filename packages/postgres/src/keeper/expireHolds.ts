import type { ReservationRecord } from '@usher/engine';
import {
  decideExpireHold,
  seatsFreedBy,
  type Lifecycles,
  type StateChange,
} from '@usher/engine/rules';
import { offerFreedSeats } from '../commands/offers.js';
import type { Queryable } from '../database.js';
import { RESERVATION_COLUMNS, reservationRecord } from '../reads.js';
import { BATCH } from './limits.js';

/**
 * Holds past their deadline expire, each at its own deadline (the
 * reservation machine's timeout, decided by the rule): the due holds are
 * read with their rows locked (a payment or cancel racing for one waits,
 * then finds it ended), and `usher_expire_holds` ends exactly those. Their
 * seats go to the schedules' waitlists first, in the same transaction
 * (`offerFreedSeats`, SPEC §11): a step that rolls back offers nothing, and
 * one that commits offered each seat once. Answers how many expired.
 */
export async function expireHolds(
  db: Queryable,
  now: number,
  lifecycles: Lifecycles,
): Promise<number> {
  const due = await db.query(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations r WHERE usher_hold_overdue(r, $1)
      ORDER BY expires_at LIMIT ${BATCH} FOR UPDATE`,
    [now],
  );
  return expireRows(db, due.rows, now, lifecycles);
}

/**
 * The holds `ids` that are past their deadline at `now` expire as the
 * keeper's do, their seats offered to the waitlists, in the caller's
 * transaction on `db`: what a reserve does first when it finds such a hold
 * on a seat it wants (the seat goes to the waitlist first, SPEC §11; with
 * nobody waiting it is for sale, and the reserve reads again).
 */
export async function expireHoldsById(
  db: Queryable,
  ids: readonly string[],
  now: number,
  lifecycles: Lifecycles,
): Promise<number> {
  const due = await db.query(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations r WHERE r.id = ANY ($1) AND usher_hold_overdue(r, $2)
      ORDER BY expires_at FOR UPDATE`,
    [ids, now],
  );
  return expireRows(db, due.rows, now, lifecycles);
}

/** Due holds read with their rows locked, in deadline order: each expires (decideExpireHold), then their seats are offered. */
async function expireRows(
  db: Queryable,
  rows: readonly Record<string, unknown>[],
  now: number,
  lifecycles: Lifecycles,
): Promise<number> {
  const ids: string[] = [];
  const ats: number[] = [];
  const ended = new Map<string, ReservationRecord>();
  const changes: StateChange[] = [];
  for (const row of rows) {
    const record = reservationRecord(row);
    for (const change of decideExpireHold(record, now, lifecycles).changes) {
      if (change.type !== 'reservationEnded') continue;
      ids.push(change.id);
      ats.push(change.at);
      ended.set(record.id, record);
      changes.push(change);
    }
  }
  if (ids.length > 0) {
    await db.query('SELECT usher_expire_holds($1::text[], $2::bigint[], $3)', [ids, ats, now]);
    await offerFreedSeats(
      db,
      now,
      lifecycles,
      seatsFreedBy(changes, (id) => ended.get(id)),
    );
  }
  return ids.length;
}
