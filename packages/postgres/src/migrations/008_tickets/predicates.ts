/**
 * Issue 23's predicates, stated once as the earlier migrations' are
 * (inlinable one-liners over the row), and the count of a user's tickets
 * that replaces migration 3's `usher_tickets` for tickets that were
 * refunded or transferred.
 */
export const predicates = /* sql */ `
-- The ticket occupies its seat: valid or checked in. At most one per seat (the unique index
-- tickets_live_seat, whose predicate this is).
CREATE FUNCTION usher_ticket_live(t tickets) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT t.status IN ('valid', 'checked_in') $fn$;

-- The ticket may still be used, checked in, refunded or transferred: valid (the tickets' rule: every
-- other status is final).
CREATE FUNCTION usher_ticket_valid(t tickets) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT t.status = 'valid' $fn$;

-- The user's tickets of a schedule at p_now (MAX_TICKETS_PER_USER, ticketsOf): the seats of their live
-- holds of it and the live tickets they hold of it (paid, received; not refunded, not given away).
CREATE FUNCTION usher_ticket_count(p_user text, p_schedule text, p_now bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT coalesce(sum(usher_seat_count(r)), 0) FROM reservations r
           WHERE r.user_id = p_user AND r.schedule_id = p_schedule AND usher_hold_live(r, p_now))
       + (SELECT count(*) FROM tickets t
           WHERE t.holder = p_user AND t.schedule_id = p_schedule AND usher_ticket_live(t));
END $fn$;
`;
