/**
 * Issuing a token at once no longer counts the active tokens (twice: the
 * view, then the apply under the step lock): `active_bound` holds a number
 * never below how many tokens are `active`. Every token that becomes active
 * raises it, by a trigger, in the transaction that makes it active, whatever
 * does so (an issue at once, a keeper step's admissions); nothing lowers it
 * but a recount. Tokens leave `active` (payments, expiry) without touching
 * it, so those never queue on its row.
 *
 * While the bound is under `maxActive`, so is the number of active tokens:
 * the room has space, with no count. At the bound, an issue at once recounts
 * under the step lock and the row's lock (any transaction that made a token
 * active and committed is seen; one that has not waits on the row and raises
 * the recounted value after), stores the count, and checks the room as the
 * decision did: live active tokens only.
 */
export const activeBound = /* sql */ `
CREATE TABLE active_bound (
  id integer PRIMARY KEY CHECK (id = 1),
  bound bigint NOT NULL
);
INSERT INTO active_bound (id, bound) SELECT 1, count(*) FROM tokens WHERE status = 'active';

CREATE FUNCTION usher_active_bound_up() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE active_bound SET bound = bound + 1 WHERE id = 1;
  RETURN NULL;
END $fn$;
CREATE TRIGGER tokens_active_inserted AFTER INSERT ON tokens
  FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION usher_active_bound_up();
CREATE TRIGGER tokens_active_updated AFTER UPDATE OF status ON tokens
  FOR EACH ROW WHEN (NEW.status = 'active' AND OLD.status IS DISTINCT FROM 'active') EXECUTE FUNCTION usher_active_bound_up();

CREATE OR REPLACE FUNCTION usher_issue(
  p_now bigint, p_token text, p_user text, p_status text, p_issued_at bigint, p_expires_at bigint,
  p_waiting_ttl bigint, p_max_active bigint,
  OUT o_seq bigint, OUT o_gone bigint, OUT o_tick bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
  v_bound bigint;
BEGIN
  PERFORM usher_user_lock(p_user);
  IF p_status = 'active' THEN
    -- Admitted at once: only while nobody waits and there is room, checked under the step lock.
    PERFORM pg_advisory_xact_lock(29556, 2);
    IF EXISTS (SELECT 1 FROM tokens WHERE status = 'waiting' AND last_seen_at > p_now - p_waiting_ttl) THEN
      PERFORM usher_conflict('someone is waiting');
    END IF;
    SELECT bound INTO v_bound FROM active_bound WHERE id = 1 FOR UPDATE;
    IF v_bound >= p_max_active THEN
      SELECT count(*) INTO v_bound FROM tokens WHERE status = 'active';
      UPDATE active_bound SET bound = v_bound WHERE id = 1;
      IF v_bound >= p_max_active
         AND (SELECT count(*) FROM tokens WHERE status = 'active' AND expires_at > p_now) >= p_max_active THEN
        PERFORM usher_conflict('no room under maxActive');
      END IF;
    END IF;
  ELSE
    -- Shared with other arrivals, exclusive with keeper steps (see usher_apply).
    PERFORM pg_advisory_xact_lock_shared(29556, 2);
    o_seq := nextval('token_seq');
  END IF;
  -- The user's active token past its deadline, which no step has removed yet, ends now (it is in no line).
  DELETE FROM tokens WHERE user_id = p_user AND status = 'active' AND expires_at <= p_now;
  INSERT INTO tokens (token, user_id, status, seq, issued_at, expires_at, last_seen_at)
    VALUES (p_token, p_user, p_status, o_seq, p_issued_at, p_expires_at, p_now)
    ON CONFLICT (user_id) WHERE status IN ('waiting', 'active') DO NOTHING;
  IF NOT FOUND THEN PERFORM usher_conflict('the user has a live token'); END IF;
  IF p_status = 'waiting' THEN
    o_tick := (SELECT coalesce(max(no), 0) FROM queue_ticks);
    -- Only a step older than waitingTtl can leave abandoned arrivals behind (see goneBelow in views.ts).
    o_gone := CASE WHEN p_now - p_waiting_ttl < coalesce((SELECT at FROM queue_ticks ORDER BY no DESC LIMIT 1), 0) THEN 0
                   ELSE (SELECT count(*) FROM tokens
                          WHERE status = 'waiting' AND line IS NULL AND seq <= o_seq AND last_seen_at <= p_now - p_waiting_ttl) END;
  END IF;
END $fn$;
`;
