import type { ReservationRecord } from '@usher/engine';
import { decideExpireHold, type Lifecycles } from '@usher/engine/rules';
import { offerFreedSeats, seatsOfHold } from '../commands/offers.js';
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
  const ids: string[] = [];
  const ats: number[] = [];
  const ended: ReservationRecord[] = [];
  for (const row of due.rows) {
    const record = reservationRecord(row);
    for (const change of decideExpireHold(record, now, lifecycles).changes) {
      if (change.type !== 'reservationEnded') continue;
      ids.push(change.id);
      ats.push(change.at);
      ended.push(record);
    }
  }
  if (ids.length > 0) {
    await db.query('SELECT usher_expire_holds($1::text[], $2::bigint[], $3)', [ids, ats, now]);
    await offerFreedSeats(db, now, lifecycles, ended.map(seatsOfHold));
  }
  return ids.length;
}
