/**
 * Issue 22's writes: the triggers that keep `reservation_seats` equal to
 * the reservations, and the applies of an order's hold and of an extension.
 * A reservation's seats are written, and freed, in the statement that
 * writes the reservation: expiring, cancelling or paying an order moves all
 * of its seats at once (migration 1's `usher_end_hold` and
 * `usher_expire_holds` serve orders unchanged).
 */
export const orders = /* sql */ `
-- A new reservation's seats, each free or the write conflicts (UR409): the engine decides again.
CREATE FUNCTION usher_seats_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  INSERT INTO reservation_seats (reservation_id, seat_no, schedule_id, user_id, status, expires_at)
    SELECT NEW.id, coalesce((e->>'seatNo')::integer, NEW.seat_no), NEW.schedule_id, NEW.user_id, NEW.status, NEW.expires_at
      FROM jsonb_array_elements(coalesce(NEW.seats, '[{}]'::jsonb)) e
    -- The arbiter is reservation_seats_live (usher_seat_live): no seat in two live reservations.
    ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count <> usher_seat_count(NEW) THEN PERFORM usher_conflict('a seat was taken'); END IF;
  RETURN NULL;
END $fn$;
CREATE TRIGGER reservations_seats_added AFTER INSERT ON reservations
  FOR EACH ROW EXECUTE FUNCTION usher_seats_added();

-- Every seat follows its reservation's status and deadline; a paid order of k seats is k paid seats for
-- sold-out (the payment's own trigger logs one).
CREATE FUNCTION usher_seats_follow() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  UPDATE reservation_seats s SET status = NEW.status, expires_at = NEW.expires_at WHERE s.reservation_id = NEW.id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('seats of a reservation', v_count, usher_seat_count(NEW));
  IF NEW.status = 'paid' AND OLD.status <> 'paid' AND usher_seat_count(NEW) > 1 THEN
    INSERT INTO paid_log (n) VALUES (usher_seat_count(NEW) - 1);
  END IF;
  RETURN NULL;
END $fn$;
CREATE TRIGGER reservations_seats_follow AFTER UPDATE OF status, expires_at ON reservations
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
  EXECUTE FUNCTION usher_seats_follow();

-- reserve (any of SPEC §10's bodies): reservationHeld (+ reservationEnded of stale holds on its seats,
-- + tokenExtended). The holds and the tickets must still be what the decision read.
CREATE TYPE usher_order AS (
  now bigint, user_id text, token text, held integer, tickets integer,
  id text, schedule_id text, seat_no integer, price bigint, seats json, amount bigint,
  status text, created_at bigint, expires_at bigint,
  stale_ids text[], stale_ats bigint[], extend_to bigint
);
CREATE FUNCTION usher_apply(a usher_order) RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  i integer;
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, a.extend_to);
  PERFORM usher_require_holds(a.user_id, a.now, a.held);
  IF usher_tickets(a.user_id, a.schedule_id, a.now) <> a.tickets THEN
    PERFORM usher_conflict('the user''s tickets changed');
  END IF;
  FOR i IN 1 .. coalesce(cardinality(a.stale_ids), 0) LOOP
    PERFORM usher_end_hold(a.stale_ids[i], 'expired', a.stale_ats[i], a.now);
  END LOOP;
  INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, seats, amount, status, created_at, expires_at)
    VALUES (a.id, a.user_id, a.schedule_id, a.seat_no, a.price, a.seats::jsonb, a.amount, a.status, a.created_at, a.expires_at)
    ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
  IF NOT FOUND THEN PERFORM usher_conflict('the seat was taken'); END IF;
  RETURN NULL;
END $fn$;

-- extendReservation: reservationExtended (+ tokenExtended). The hold is still live and extended as
-- often as the decision read.
CREATE TYPE usher_extend AS (
  now bigint, user_id text, token text, reservation_id text, expires_at bigint, extensions integer, extend_to bigint
);
CREATE FUNCTION usher_apply(a usher_extend) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, a.extend_to);
  UPDATE reservations r SET expires_at = a.expires_at, extensions = a.extensions
   WHERE r.id = a.reservation_id AND r.user_id = a.user_id AND usher_hold_live(r, a.now)
     AND r.extensions = a.extensions - 1;
  IF NOT FOUND THEN PERFORM usher_conflict('the hold changed'); END IF;
  RETURN NULL;
END $fn$;
`;
