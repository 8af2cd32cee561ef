/**
 * The operator's room (SPEC §9): live settings, the fair start, sold-out.
 *
 * - `room`: one row, the rules' `RoomState` (with the opening's draw: a
 *   seed and a range of line numbers, never a rewrite of the lines) plus two
 *   durable counters:
 *   `admitted_total` (tokens ever admitted: by keeper steps, and at issue by
 *   the trigger below) and `paid_seats` (seats ever paid, which the keeper
 *   adds up from `paid_log` at each tick). Engines insert it at start from
 *   their configuration if it is not there yet. Written under the step lock
 *   (keeper steps, `updateRoom`, admissions at issue), so it never races.
 * - `queue_ticks.room`: the room as each step left it, so every engine's
 *   mirror knows it without asking (positions are `null` before the opening;
 *   a sold-out room ends its watchers with `reason: "sold_out"`).
 * - Admission at issue: the trigger refuses (`UR409`: the engine decides
 *   again, with the room read anew) while the room is paused, waits for its
 *   opening or is sold out, and counts the admission.
 * - `paid_log`: one row per payment, appended by a trigger (no index, no
 *   shared row: payments never wait on each other for it); each keeper tick
 *   deletes what is there and adds it to `room.paid_seats`. So sold-out is a
 *   comparison of counters, never a count of seats. The rows already paid
 *   when this migration runs are logged by it, under the trigger's lock.
 */
export const room = /* sql */ `
CREATE TABLE room (
  id integer PRIMARY KEY CHECK (id = 1),
  paused boolean NOT NULL,
  admit_per_tick integer NOT NULL CHECK (admit_per_tick > 0),
  max_active integer NOT NULL CHECK (max_active > 0),
  opens_at bigint,
  shuffle boolean NOT NULL,
  pending_opening boolean NOT NULL,
  sold_out boolean NOT NULL DEFAULT false,
  admitted_total bigint NOT NULL DEFAULT 0 CHECK (admitted_total >= 0),
  paid_seats bigint NOT NULL DEFAULT 0 CHECK (paid_seats >= 0),
  -- The last opening's draw (see DrawnOrder): the seed orders the lines draw_from..draw_to.
  draw_seed text,
  draw_from bigint,
  draw_to bigint,
  -- The keeper's admissions in drawn order have passed every slot before this one.
  draw_cursor bigint,
  CHECK (NOT pending_opening OR opens_at IS NOT NULL),
  CHECK ((draw_seed IS NULL) = (draw_from IS NULL) AND (draw_seed IS NULL) = (draw_to IS NULL))
);

ALTER TABLE queue_ticks ADD COLUMN room jsonb;

CREATE FUNCTION usher_admitted_at_once() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v_closed boolean;
BEGIN
  UPDATE room SET admitted_total = admitted_total + 1 WHERE id = 1
    RETURNING paused OR pending_opening OR sold_out INTO v_closed;
  IF v_closed THEN PERFORM usher_conflict('the room admits nobody now'); END IF;
  RETURN NULL;
END $fn$;

CREATE TRIGGER tokens_admitted_at_once AFTER INSERT ON tokens
  FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION usher_admitted_at_once();

CREATE TABLE paid_log (n bigint NOT NULL);

CREATE FUNCTION usher_log_paid() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO paid_log (n) VALUES (1);
  RETURN NULL;
END $fn$;

CREATE TRIGGER payments_logged AFTER INSERT ON payments FOR EACH ROW EXECUTE FUNCTION usher_log_paid();

INSERT INTO paid_log (n) SELECT count(*) FROM payments HAVING count(*) > 0;
`;
