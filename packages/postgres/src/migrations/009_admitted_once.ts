/**
 * A batch of issues at once counts its admissions in the room once, at its
 * end, as it stores the bound of active tokens (migration 7). Before, the
 * trigger of migration 5 updated the single `room` row once per token:
 * inside one batch's transaction every update adds a row version to the
 * chain the next one walks, ~65 µs a token in a batch of a few hundred.
 *
 * `usher_issue_many` now reads the room under the step lock it already
 * holds for issues at once (`updateRoom` and keeper steps write it under
 * that lock), refuses an admission while the room admits nobody, and adds
 * what it admitted to `admitted_total` in one update. The trigger stays for
 * any other insert of an active token (the generic `usher_apply`), skipped
 * while `usher_issue_many` runs (a transaction-local setting it clears
 * before it returns).
 */
export const admittedOnce = /* sql */ `
DROP TRIGGER tokens_admitted_at_once ON tokens;
CREATE TRIGGER tokens_admitted_at_once AFTER INSERT ON tokens
  FOR EACH ROW WHEN (NEW.status = 'active' AND current_setting('usher.issuing', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION usher_admitted_at_once();

CREATE OR REPLACE FUNCTION usher_issue_many(
  p_now bigint[], p_token text[], p_user text[], p_status text[], p_issued_at bigint[], p_expires_at bigint[],
  p_waiting_ttl bigint[], p_max_active bigint[]
) RETURNS TABLE (o_err text, o_msg text, o_seq bigint, o_gone bigint, o_tick bigint) LANGUAGE plpgsql AS $fn$
DECLARE
  v_bound bigint;
  v_max bigint;
  v_closed boolean;
  v_admitted bigint := 0;
BEGIN
  IF 'active' = ANY (p_status) THEN
    -- Issues at once: only while nobody waits and there is room, checked under the step lock, held to the end
    -- (whatever becomes of each issue) so that no step runs between the bound's reading and its storing.
    PERFORM pg_advisory_xact_lock(29556, 2);
    v_bound := usher_active_bound();
    -- The room as it is now (updateRoom and keeper steps write it under the step lock; engines create the row at start).
    SELECT max_active, paused OR pending_opening OR sold_out INTO v_max, v_closed FROM room WHERE id = 1;
    PERFORM set_config('usher.issuing', 'on', true);
  END IF;
  FOR i IN 1 .. coalesce(array_length(p_now, 1), 0) LOOP
    o_err := NULL; o_msg := NULL; o_seq := NULL; o_gone := NULL; o_tick := NULL;
    BEGIN
      PERFORM usher_user_lock(p_user[i]);
      IF p_status[i] = 'active' THEN
        IF v_closed THEN PERFORM usher_conflict('the room admits nobody now'); END IF;
        IF v_max <> p_max_active[i] THEN
          PERFORM usher_conflict('the room''s maxActive changed');
        END IF;
        IF EXISTS (SELECT 1 FROM tokens WHERE status = 'waiting' AND last_seen_at > p_now[i] - p_waiting_ttl[i]) THEN
          PERFORM usher_conflict('someone is waiting');
        END IF;
        IF v_bound IS NULL OR v_bound >= p_max_active[i] THEN
          -- Exact under the step lock: nothing else makes tokens active meanwhile.
          v_bound := (SELECT count(*) FROM tokens WHERE status = 'active');
          IF v_bound >= p_max_active[i]
             AND (SELECT count(*) FROM tokens WHERE status = 'active' AND expires_at > p_now[i]) >= p_max_active[i] THEN
            PERFORM usher_conflict('no room under maxActive');
          END IF;
        END IF;
      ELSE
        -- Shared with other arrivals, exclusive with keeper steps (see usher_apply).
        PERFORM pg_advisory_xact_lock_shared(29556, 2);
        o_seq := nextval('token_seq');
      END IF;
      -- The user's active token past its deadline, which no step has removed yet, ends now (it is in no line).
      DELETE FROM tokens WHERE user_id = p_user[i] AND status = 'active' AND expires_at <= p_now[i];
      INSERT INTO tokens (token, user_id, status, seq, issued_at, expires_at, last_seen_at)
        VALUES (p_token[i], p_user[i], p_status[i], o_seq, p_issued_at[i], p_expires_at[i], p_now[i])
        ON CONFLICT (user_id) WHERE status IN ('waiting', 'active') DO NOTHING;
      IF NOT FOUND THEN PERFORM usher_conflict('the user has a live token'); END IF;
      IF p_status[i] = 'waiting' THEN
        o_tick := (SELECT coalesce(max(no), 0) FROM queue_ticks);
        -- Only a step older than waitingTtl can leave abandoned arrivals behind (see goneBelow in views.ts).
        o_gone := CASE WHEN p_now[i] - p_waiting_ttl[i] < coalesce((SELECT at FROM queue_ticks ORDER BY no DESC LIMIT 1), 0) THEN 0
                       ELSE (SELECT count(*) FROM tokens
                              WHERE status = 'waiting' AND line IS NULL AND seq <= o_seq
                                AND last_seen_at <= p_now[i] - p_waiting_ttl[i]) END;
      ELSE
        -- Last in the block: counted only once the token stands.
        v_bound := v_bound + 1;
        v_admitted := v_admitted + 1;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o_err = RETURNED_SQLSTATE, o_msg = MESSAGE_TEXT;
    END;
    RETURN NEXT;
  END LOOP;
  IF v_bound IS NOT NULL THEN
    UPDATE active_bound SET bound = v_bound, tick = (SELECT coalesce(max(no), 0) FROM queue_ticks) WHERE id = 1;
  END IF;
  IF v_admitted > 0 THEN
    UPDATE room SET admitted_total = admitted_total + v_admitted WHERE id = 1;
  END IF;
  IF 'active' = ANY (p_status) THEN
    PERFORM set_config('usher.issuing', 'off', true);
  END IF;
END $fn$;
`;
