/**
 * Issuing tokens in any room (`usher_issue_in_room_many(items)`, items of
 * type `usher_room_issue`: `usher_issue`'s fields and the room), the
 * successor of `usher_issue_many` once a user has one live token per room
 * (its arbiter is `tokens_live_user_room`). As before, each item in a
 * subtransaction of its own; a waiting token draws its number under the
 * arrivals' share of the step lock; a token admitted at once is checked again
 * under the step lock, held to the batch's commit, against its own room: the
 * room admits, with the `maxActive` the decision read, nobody of the room
 * waits, and fewer than `maxActive` of the room's tokens are active. The
 * default room keeps its bound of the active tokens (`usher_active_bound`,
 * which counts every room's, so it is a bound of the default room's too); a
 * room of a concert counts its active tokens (`tokens_room_active`).
 *
 * `usher_issue_with_code_in_room_many`: the same with a presale code, spent
 * in the subtransaction of the token's insert (as `usher_issue_with_code_many`).
 */
export const issue = /* sql */ `
CREATE TYPE usher_room_issue AS (
  now bigint, token text, user_id text, status text, issued_at bigint, expires_at bigint,
  waiting_ttl bigint, max_active integer, room text
);

CREATE FUNCTION usher_issue_in_room_many(p_items json) RETURNS SETOF usher_outcome LANGUAGE plpgsql AS $fn$
DECLARE
  v_items usher_room_issue[] := ARRAY(SELECT x FROM json_populate_recordset(NULL::usher_room_issue, p_items) x);
  a usher_room_issue;
  o usher_outcome;
  v_room room_states;
  v_bound bigint;
  v_seq bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(v_items) x WHERE x.status = 'active') THEN
    -- Held to the end, whatever becomes of each issue: no step runs between the bound's reading and its storing.
    PERFORM usher_lock_steps();
    v_bound := usher_active_bound();
  END IF;
  FOREACH a IN ARRAY v_items LOOP
    o := NULL;
    v_seq := NULL;
    BEGIN
      PERFORM usher_lock_user(a.user_id);
      IF a.status = 'active' THEN
        SELECT * INTO v_room FROM room_states r WHERE r.id = a.room;
        IF NOT FOUND OR NOT usher_room_state_admits(v_room) THEN PERFORM usher_conflict('the room admits nobody now'); END IF;
        IF v_room.max_active <> a.max_active THEN PERFORM usher_conflict('the room''s maxActive changed'); END IF;
        IF EXISTS (SELECT 1 FROM tokens t WHERE t.room = a.room AND usher_waiter_present(t, a.now, a.waiting_ttl)) THEN
          PERFORM usher_conflict('someone is waiting');
        END IF;
        IF a.room <> 'default' OR v_bound IS NULL OR v_bound >= a.max_active THEN
          -- Exact under the step lock: nothing else makes tokens active meanwhile.
          IF (SELECT count(*) FROM tokens t WHERE t.room = a.room AND usher_token_active(t, a.now)) >= a.max_active THEN
            PERFORM usher_conflict('no room under maxActive');
          END IF;
          IF a.room = 'default' THEN v_bound := (SELECT count(*) FROM tokens WHERE status = 'active'); END IF;
        END IF;
      ELSE
        PERFORM usher_lock_arrivals();
        v_seq := nextval('token_seq');
      END IF;
      -- The user's active token of this room past its deadline, which no step has removed yet, ends now.
      DELETE FROM tokens t WHERE t.user_id = a.user_id AND t.room = a.room AND usher_token_overdue(t, a.now);
      INSERT INTO tokens (token, user_id, status, seq, issued_at, expires_at, last_seen_at, room)
        VALUES (a.token, a.user_id, a.status, v_seq, a.issued_at, a.expires_at, a.now, a.room)
        ON CONFLICT (user_id, room) WHERE status IN ('waiting', 'active') DO NOTHING;
      IF NOT FOUND THEN PERFORM usher_conflict('the user has a live token in this room'); END IF;
      IF a.status = 'waiting' THEN
        o.result := json_build_object('seq', v_seq, 'gone', usher_gone_below(v_seq, a.now, a.waiting_ttl),
                                      'tick', usher_last_tick());
      ELSE
        -- Last in the block: counted only once the token stands.
        IF v_bound IS NOT NULL THEN v_bound := v_bound + 1; END IF;
        PERFORM usher_count_admitted_in(a.room, 1);
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o.err = RETURNED_SQLSTATE, o.msg = MESSAGE_TEXT;
    END;
    RETURN NEXT o;
  END LOOP;
  IF v_bound IS NOT NULL THEN
    UPDATE active_bound SET bound = v_bound, tick = usher_last_tick() WHERE id = 1;
  END IF;
END $fn$;

CREATE TYPE usher_room_code_issue AS (
  now bigint, token text, user_id text, status text, issued_at bigint, expires_at bigint,
  waiting_ttl bigint, max_active integer, room text, code_hash text, code_room text
);

CREATE FUNCTION usher_issue_with_code_in_room_many(p_items json) RETURNS SETOF usher_outcome LANGUAGE plpgsql AS $fn$
DECLARE
  a usher_room_code_issue;
  o usher_outcome;
  v_issued usher_outcome;
BEGIN
  FOR a IN SELECT * FROM json_populate_recordset(NULL::usher_room_code_issue, p_items) LOOP
    o := NULL;
    BEGIN
      UPDATE presale_codes SET spent_at = a.now
       WHERE hash = a.code_hash AND room = a.code_room AND room = a.room AND spent_at IS NULL;
      IF NOT FOUND THEN PERFORM usher_conflict('the presale code is spent or unknown'); END IF;
      SELECT * INTO v_issued FROM usher_issue_in_room_many(json_build_array(row_to_json(a)));
      IF v_issued.err IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = v_issued.err, MESSAGE = v_issued.msg;
      END IF;
      INSERT INTO priority_tokens (token, seq) SELECT t.token, t.seq FROM tokens t WHERE t.token = a.token AND t.status = 'waiting';
      o.result := v_issued.result;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o.err = RETURNED_SQLSTATE, o.msg = MESSAGE_TEXT;
    END;
    RETURN NEXT o;
  END LOOP;
END $fn$;
`;
