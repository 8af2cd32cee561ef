/**
 * Issuing tokens, many at once (`usher_issue_many(items)`, items of type
 * `usher_issue`), each in a subtransaction of its own as `usher_apply_each`
 * does, with what the batch shares:
 *
 * - A waiting token draws its number under the arrivals' share of the step
 *   lock, so a step never runs while a drawn number is unsettled.
 * - A token admitted at once (the rule saw the room admitting, nobody
 *   waiting and room under `maxActive`) is checked again under the step lock
 *   by `usher_admission_at_issue`, which the batch holds to its commit, so
 *   admissions never pass `maxActive`. Rather than counting the active tokens
 *   for each, the batch reads `usher_active_bound()` once and stores it once
 *   at its end (a row updated per token would grow a chain of row versions
 *   within the transaction); at the bound it counts. It adds what it admitted
 *   to the room's `admitted_total` once.
 */
export const issue = /* sql */ `
CREATE TYPE usher_issue AS (
  now bigint, token text, user_id text, status text, issued_at bigint, expires_at bigint,
  waiting_ttl bigint, max_active integer
);

-- Admission at issue (decideIssue), restated under the step lock: the room admits, it still has the
-- maxActive the decision read, nobody waits, and fewer than maxActive tokens are active. Answers the
-- bound of active tokens to go on with (counted afresh when p_bound is at maxActive or unknown).
CREATE FUNCTION usher_admission_at_issue(p_room room, a usher_issue, p_bound bigint) RETURNS bigint
LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT usher_room_admits(p_room) THEN PERFORM usher_conflict('the room admits nobody now'); END IF;
  IF p_room.max_active <> a.max_active THEN PERFORM usher_conflict('the room''s maxActive changed'); END IF;
  IF EXISTS (SELECT 1 FROM tokens t WHERE usher_waiter_present(t, a.now, a.waiting_ttl)) THEN
    PERFORM usher_conflict('someone is waiting');
  END IF;
  IF p_bound IS NULL OR p_bound >= a.max_active THEN
    -- Exact under the step lock: nothing else makes tokens active meanwhile.
    p_bound := (SELECT count(*) FROM tokens WHERE status = 'active');
    IF p_bound >= a.max_active
       AND (SELECT count(*) FROM tokens t WHERE usher_token_active(t, a.now)) >= a.max_active THEN
      PERFORM usher_conflict('no room under maxActive');
    END IF;
  END IF;
  RETURN p_bound;
END $fn$;

CREATE FUNCTION usher_issue_many(p_items json) RETURNS SETOF usher_outcome LANGUAGE plpgsql AS $fn$
DECLARE
  v_items usher_issue[] := ARRAY(SELECT x FROM json_populate_recordset(NULL::usher_issue, p_items) x);
  a usher_issue;
  o usher_outcome;
  v_room room;
  v_bound bigint;
  v_admitted bigint := 0;
  v_seq bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(v_items) x WHERE x.status = 'active') THEN
    -- Held to the end, whatever becomes of each issue: no step runs between the bound's reading and its storing.
    PERFORM usher_lock_steps();
    SELECT * INTO v_room FROM room WHERE id = 1;
    v_bound := usher_active_bound();
  END IF;
  FOREACH a IN ARRAY v_items LOOP
    o := NULL;
    v_seq := NULL;
    BEGIN
      PERFORM usher_lock_user(a.user_id);
      IF a.status = 'active' THEN
        v_bound := usher_admission_at_issue(v_room, a, v_bound);
      ELSE
        PERFORM usher_lock_arrivals();
        v_seq := nextval('token_seq');
      END IF;
      -- The user's active token past its deadline, which no step has removed yet, ends now (it is in no line).
      DELETE FROM tokens t WHERE t.user_id = a.user_id AND usher_token_overdue(t, a.now);
      INSERT INTO tokens (token, user_id, status, seq, issued_at, expires_at, last_seen_at)
        VALUES (a.token, a.user_id, a.status, v_seq, a.issued_at, a.expires_at, a.now)
        ON CONFLICT (user_id) WHERE status IN ('waiting', 'active') DO NOTHING;
      IF NOT FOUND THEN PERFORM usher_conflict('the user has a live token'); END IF;
      IF a.status = 'waiting' THEN
        o.result := json_build_object('seq', v_seq, 'gone', usher_gone_below(v_seq, a.now, a.waiting_ttl),
                                      'tick', usher_last_tick());
      ELSE
        -- Last in the block: counted only once the token stands.
        v_bound := v_bound + 1;
        v_admitted := v_admitted + 1;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o.err = RETURNED_SQLSTATE, o.msg = MESSAGE_TEXT;
    END;
    RETURN NEXT o;
  END LOOP;
  IF v_bound IS NOT NULL THEN
    UPDATE active_bound SET bound = v_bound, tick = usher_last_tick() WHERE id = 1;
  END IF;
  PERFORM usher_count_admitted(v_admitted);
END $fn$;
`;
