/**
 * Issue 22's predicates, stated once as migration 1's are (inlinable
 * one-liners over the row), and the count of a user's tickets.
 */
export const predicates = /* sql */ `
-- The seat row occupies its seat: its reservation is held (even past its deadline) or paid. At most one
-- per seat (the unique index reservation_seats_live, whose predicate this is).
CREATE FUNCTION usher_seat_live(s reservation_seats) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT s.status IN ('held', 'paid') $fn$;

-- The seat is not for sale at p_now: paid, or held by a live hold (reservationStatusAt).
CREATE FUNCTION usher_seat_occupied(s reservation_seats, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT usher_seat_live(s) AND NOT (s.status = 'held' AND usher_past(s.expires_at, p_now)) $fn$;

-- The seats a reservation holds (one for a row written before orders).
CREATE FUNCTION usher_seat_count(r reservations) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT coalesce(jsonb_array_length(r.seats), 1) $fn$;

-- The user's tickets of a schedule at p_now (MAX_TICKETS_PER_USER, ticketsOf): the seats of their held
-- (not past the deadline) and paid reservations of it.
CREATE FUNCTION usher_tickets(p_user text, p_schedule text, p_now bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT coalesce(sum(usher_seat_count(r)), 0) FROM reservations r
           WHERE r.user_id = p_user AND r.schedule_id = p_schedule AND usher_seat_taken(r, p_now));
END $fn$;
`;
