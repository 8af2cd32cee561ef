/**
 * Migration 10, plans that stay per user and per row whatever the
 * statistics (issue 22's open point: what a hold and a payment cost
 * PostgreSQL; bench/RESULTS.md, "PostgreSQL: where a hold's and a payment's
 * CPU goes").
 *
 * A PL/pgSQL function keeps its statements' plans for the session, and after
 * five calls a generic one (parameters unknown), costed with the statistics
 * of the moment: at the start of a sale, those of nearly empty tables, where
 * a scan of a whole partial index looks as cheap as a probe by key. Four
 * statements of the hold and the payment took (or could take) such plans and
 * read every live row of their table per command (auto_explain in a bench run, 4,000 holds):
 *
 * - `usher_ticket_count` (migration 8; the reserve view and its apply):
 *   `user_id = $1 AND schedule_id = $2 AND status = 'held' AND expires_at >
 *   $3` scanned `reservations_held_deadline` (every live hold: 107 buffers
 *   with 2,048 live). Now the holds are found by user and status only and
 *   the schedule and the deadline are counted in a FILTER, as migration 1's
 *   `usher_live_holds` already does for this reason.
 * - `usher_tickets` (migration 3; the hold's apply, under migration 8's):
 *   `user_id = $1 AND schedule_id = $2` and the live statuses match both
 *   `reservations_live_by_user` and `reservations_live_seat` (every live
 *   seat of the schedule) equally well to a generic plan: which one a session
 *   took was a toss (7 to 31 buffers per hold from one run to the next). Now
 *   the schedule and the deadline are counted in a FILTER, as above.
 * - `usher_issue_tickets` (migration 8; the payment): its seats by
 *   `reservation_id = $1 AND status = 'paid'` were a BitmapAnd of the primary
 *   key and the whole of `reservation_seats_live` (every live seat: 58
 *   buffers). Now the status is checked on the rows found by key, where no
 *   index can take it: `(SELECT s.status = 'paid')`.
 * - `usher_require_active` (migration 1; every command with a token):
 *   `token = $1 AND status = 'active' AND expires_at > $2` scanned
 *   `tokens_room_active` by deadline (every active token: 17 buffers with
 *   1,000 active). Now the token is found by its key and its state checked
 *   on that row, by the same sub-select.
 *
 * They stay PL/pgSQL (a body with sub-selects is never inlined, and a SQL
 * function that is not inlined is planned again at every call: migration
 * 1's note). Each is `CREATE OR REPLACE` of the function its migration created, with the
 * same signature and the same answers (the rules' predicates, unchanged);
 * only where the planner may look differs. A sub-select `(SELECT …)` of the
 * row's own columns is evaluated on the row (and again on a newer version of
 * it, for an update that waited), never used to choose an index.
 */
export const plans = /* sql */ `
-- Replaces migration 8's usher_ticket_count: the same count (the seats of the user's live holds of the
-- schedule and the user's live tickets of it), the holds found by user, as usher_live_holds finds them.
CREATE OR REPLACE FUNCTION usher_ticket_count(p_user text, p_schedule text, p_now bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT coalesce(sum(usher_seat_count(r)) FILTER (WHERE r.schedule_id = p_schedule AND usher_hold_live(r, p_now)), 0)
            FROM reservations r WHERE r.user_id = p_user AND r.status = 'held')
       + (SELECT count(*) FROM tickets t
           WHERE t.holder = p_user AND t.schedule_id = p_schedule AND usher_ticket_live(t));
END $fn$;

-- Replaces migration 3's usher_tickets: the same count (the seats of the user's held, not past the deadline,
-- and paid reservations of the schedule), the reservations found by user.
CREATE OR REPLACE FUNCTION usher_tickets(p_user text, p_schedule text, p_now bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT coalesce(sum(usher_seat_count(r)) FILTER (WHERE r.schedule_id = p_schedule AND usher_seat_taken(r, p_now)), 0)
            FROM reservations r WHERE r.user_id = p_user AND usher_reservation_live(r));
END $fn$;

-- Replaces migration 8's usher_issue_tickets: the same tickets and checks, the reservation's seats found
-- by its key (the primary key) and their status checked on them.
CREATE OR REPLACE FUNCTION usher_issue_tickets(p_reservation text, p_tickets json) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  INSERT INTO tickets (id, reservation_id, schedule_id, seat_no, price, holder, status, created_at)
    SELECT j.id, s.reservation_id, s.schedule_id, s.seat_no, j.price, j.holder, 'valid', j.created_at
      FROM json_populate_recordset(NULL::tickets, p_tickets) j
      JOIN reservation_seats s ON s.reservation_id = p_reservation AND s.seat_no = j.seat_no AND (SELECT s.status = 'paid')
     WHERE j.holder = s.user_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('tickets of a payment', v_count, json_array_length(p_tickets));
  PERFORM usher_expect_rows('tickets of a payment', v_count,
                            (SELECT usher_seat_count(r) FROM reservations r WHERE r.id = p_reservation));
END $fn$;

-- Replaces migration 1's usher_require_active: the same condition (usher_token_active at p_now) and the
-- same extension, the token found by its key and its state checked on that row.
CREATE OR REPLACE FUNCTION usher_require_active(p_token text, p_now bigint, p_extend_to bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_extend_to IS NULL THEN
    PERFORM 1 FROM tokens t WHERE t.token = p_token AND (SELECT usher_token_active(t, p_now));
  ELSE
    UPDATE tokens t SET expires_at = greatest(t.expires_at, p_extend_to)
      WHERE t.token = p_token AND (SELECT usher_token_active(t, p_now));
  END IF;
  IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;
END $fn$;
`;
