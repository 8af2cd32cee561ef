/**
 * Rooms of concerts (issue 25), their predicates and counters, each stated
 * once for every room: the admission test of a room's state (the default
 * room's included, through `room_states`), a room's count of admitted tokens,
 * and the log of seats paid in a concert's room.
 */
export const rules = /* sql */ `
-- The room admits (isAdmitting, and not sold out: decideIssue, decideTick): not paused, not waiting for
-- its opening, not sold out. Every room's, through room_states (the baseline's usher_room_admits(room)
-- served the default room alone; this release no longer calls it).
CREATE FUNCTION usher_room_state_admits(r room_states) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT NOT (r.paused OR r.pending_opening OR r.sold_out) $fn$;

-- Tokens of p_room admitted (by a keeper step, or at issue): the room's durable admittedTotal.
CREATE FUNCTION usher_count_admitted_in(p_room text, p_count bigint) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  IF p_count <= 0 THEN RETURN; END IF;
  IF p_room = 'default' THEN
    PERFORM usher_count_admitted(p_count);
  ELSE
    UPDATE rooms SET admitted_total = admitted_total + p_count WHERE id = p_room;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM usher_expect_rows('room counting admissions', v_count, 1);
  END IF;
END $fn$;

-- A reservation of a concert with a room of its own is paid: its seats are that room's paid seats.
CREATE FUNCTION usher_log_room_paid() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO room_paid_log (room, n)
    SELECT s.concert_id, usher_seat_count(NEW) FROM schedules s JOIN rooms ro ON ro.id = s.concert_id
     WHERE s.id = NEW.schedule_id;
  RETURN NULL;
END $fn$;
CREATE TRIGGER reservations_room_paid AFTER UPDATE OF status ON reservations
  FOR EACH ROW WHEN (NEW.status = 'paid' AND OLD.status IS DISTINCT FROM 'paid')
  EXECUTE FUNCTION usher_log_room_paid();
`;
