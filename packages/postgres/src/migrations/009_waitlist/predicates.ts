import { LOCKS } from '../../names.js';

/**
 * The waitlist's predicates and locks, stated once:
 *
 * - "the schedule has a seat for sale" (a join is refused while it has):
 *   its seats less those occupied at `now` (`usher_seat_occupied`, the
 *   predicate every listing of free seats uses), counted by
 *   `usher_seats_taken`, which the catalog's listing of schedules calls too;
 * - an entry's place on its list;
 * - the schedule's waitlist lock: a join takes it exclusively (so a seat
 *   freed meanwhile either is seen for sale by the join, or sees the
 *   join's entry and goes to it); whatever frees seats takes it shared
 *   (frees do not wait for each other on it; they meet on the entries'
 *   rows, locked in `seq` order). A join holds nothing else while it waits
 *   for it (it takes no user lock), and a free never waits for a join's
 *   other locks: no cycle goes through it.
 */
export const predicates = /* sql */ `
-- The seats of p_schedule not for sale at p_now: held by a live hold or paid (usher_seat_occupied).
CREATE FUNCTION usher_seats_taken(p_schedule text, p_now bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT count(*) FROM reservation_seats r WHERE r.schedule_id = p_schedule AND usher_seat_occupied(r, p_now));
END $fn$;

-- The seats of p_schedule for sale at p_now (0 for no such schedule): a join is refused while there are any.
CREATE FUNCTION usher_seats_for_sale(p_schedule text, p_now bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN coalesce((SELECT s.total_seats - usher_seats_taken(s.id, p_now) FROM schedules s WHERE s.id = p_schedule), 0);
END $fn$;

-- The reservation is a hold offered from the waitlist (isOffer): its owner acts on it with any known token.
CREATE FUNCTION usher_offered(r reservations) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT r.origin IS NOT DISTINCT FROM 'waitlist' $fn$;

-- The entry's 1-based place on its schedule's list: the entries that joined before it, plus one.
CREATE FUNCTION usher_waitlist_position(w waitlist) RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT count(*) FROM waitlist o WHERE o.schedule_id = w.schedule_id AND o.seq < w.seq) + 1;
END $fn$;

-- The schedule's waitlist lock (see above): exclusive for a join, shared for what frees seats.
CREATE FUNCTION usher_lock_waitlist(p_schedule text) RETURNS void
  LANGUAGE sql AS $fn$ SELECT pg_advisory_xact_lock(${LOCKS.waitlist}, hashtext(p_schedule)) $fn$;
CREATE FUNCTION usher_lock_waitlist_shared(p_schedule text) RETURNS void
  LANGUAGE sql AS $fn$ SELECT pg_advisory_xact_lock_shared(${LOCKS.waitlist}, hashtext(p_schedule)) $fn$;

-- The head of p_schedule's list, its first p_limit entries in seq order, locked: what seats freed
-- together (at most p_limit of them, each entry taking one at least) are handed out to, under the
-- waitlist lock held shared (no join comes in ahead meanwhile).
CREATE FUNCTION usher_waitlist_head(p_schedule text, p_limit integer) RETURNS SETOF waitlist
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_waitlist_shared(p_schedule);
  RETURN QUERY SELECT * FROM waitlist w WHERE w.schedule_id = p_schedule ORDER BY w.seq LIMIT p_limit FOR UPDATE;
END $fn$;
`;
