/**
 * Typed apply paths for the commands that run most: holding a seat, paying,
 * charging a wallet, issuing a token. Each is a small function taking the
 * decision's facts as typed arguments (no `jsonb` to decode), and applying
 * them as `usher_apply` does: conditional writes that restate what the
 * decision assumed, raising `UR409` when one no longer holds (the engine then
 * reads again and decides again). They decide nothing: the decisions are the
 * shared rules' (`@usher/engine/rules`), made in the engine.
 *
 * Each has a `_many` form for group commit: arrays in, one row out per item
 * (`o_err`, `o_msg` when it failed, in a subtransaction of its own that
 * rolled back alone; `o_seq`, `o_gone`, `o_tick` for a new waiting token).
 *
 * A user's holds are counted by user (`count(*) FILTER (…)`): with the
 * deadline in the `WHERE`, a plan cached while the table was empty scanned
 * every live hold by deadline instead.
 */
export const typedApply = /* sql */ `
CREATE FUNCTION usher_user_lock(p_user text) RETURNS void LANGUAGE sql AS $fn$
  SELECT pg_advisory_xact_lock(29557, hashtext(p_user))
$fn$;

-- The token is still active at p_now (and, for a hold past its end, now lasts to p_extend_to).
CREATE FUNCTION usher_require_active(p_token text, p_now bigint, p_extend_to bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_extend_to IS NULL THEN
    PERFORM 1 FROM tokens WHERE token = p_token AND status = 'active' AND expires_at > p_now;
  ELSE
    UPDATE tokens SET expires_at = greatest(expires_at, p_extend_to) WHERE token = p_token AND status = 'active' AND expires_at > p_now;
  END IF;
  IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;
END $fn$;

CREATE FUNCTION usher_require_held(p_user text, p_now bigint, p_held integer) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF (SELECT count(*) FILTER (WHERE expires_at > p_now) FROM reservations WHERE user_id = p_user AND status = 'held') <> p_held THEN
    PERFORM usher_conflict('the user''s holds changed');
  END IF;
END $fn$;

-- reservationHeld (+ reservationEnded of a stale hold on the seat, + tokenExtended).
CREATE FUNCTION usher_hold(
  p_now bigint, p_user text, p_token text, p_held integer,
  p_id text, p_schedule text, p_seat integer, p_price bigint, p_status text, p_created_at bigint, p_expires_at bigint,
  p_stale text, p_stale_at bigint, p_extend_to bigint
) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_user_lock(p_user);
  PERFORM usher_require_active(p_token, p_now, p_extend_to);
  PERFORM usher_require_held(p_user, p_now, p_held);
  IF p_stale IS NOT NULL THEN
    -- A stale hold a decision found past its deadline: whoever expires it first, it ends at its deadline.
    UPDATE reservations SET status = 'expired', ended_at = p_stale_at WHERE id = p_stale AND status = 'held' AND expires_at <= p_now;
  END IF;
  INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, status, created_at, expires_at)
    VALUES (p_id, p_user, p_schedule, p_seat, p_price, p_status, p_created_at, p_expires_at)
    ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
  IF NOT FOUND THEN PERFORM usher_conflict('the seat was taken'); END IF;
END $fn$;

-- reservationEnded (paid) + paymentMade (+ keyRemembered, + tokenCompleted).
CREATE FUNCTION usher_pay(
  p_now bigint, p_user text, p_token text, p_held integer, p_balance bigint,
  p_reservation text, p_paid_at bigint,
  p_payment text, p_amount bigint, p_new_balance bigint, p_created_at bigint,
  p_key text, p_fingerprint text, p_result jsonb,
  p_keep_until bigint
) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_user_lock(p_user);
  IF p_keep_until IS NULL THEN
    PERFORM usher_require_active(p_token, p_now, NULL);
  ELSE
    UPDATE tokens SET status = 'expired', expires_at = p_keep_until WHERE token = p_token AND status = 'active' AND expires_at > p_now;
    IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;
  END IF;
  PERFORM usher_require_held(p_user, p_now, p_held);
  UPDATE reservations SET status = 'paid', ended_at = p_paid_at WHERE id = p_reservation AND status = 'held' AND expires_at > p_now;
  IF NOT FOUND THEN PERFORM usher_conflict('the hold is no longer held'); END IF;
  UPDATE wallets SET balance = balance - p_amount, paid = paid + p_amount
    WHERE user_id = p_user AND balance = p_balance AND balance - p_amount = p_new_balance;
  IF NOT FOUND THEN PERFORM usher_conflict('the balance changed'); END IF;
  INSERT INTO payments (id, reservation_id, user_id, amount, balance, created_at)
    VALUES (p_payment, p_reservation, p_user, p_amount, p_new_balance, p_created_at);
  IF p_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (user_id, key, fingerprint, result, created_at)
      VALUES (p_user, p_key, p_fingerprint, p_result, p_created_at) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN PERFORM usher_conflict('the idempotency key was taken'); END IF;
  END IF;
END $fn$;

-- walletCredited (+ keyRemembered): the balance must still be the one the decision read (no wallet is 0).
CREATE FUNCTION usher_charge(
  p_now bigint, p_user text, p_token text, p_balance bigint, p_amount bigint,
  p_key text, p_fingerprint text, p_result jsonb, p_created_at bigint
) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_user_lock(p_user);
  PERFORM usher_require_active(p_token, p_now, NULL);
  -- Wallets are never deleted: a balance read above 0 has a row, and a missing row was read as 0.
  INSERT INTO wallets (user_id, balance, charged, paid) VALUES (p_user, p_amount, p_amount, 0)
    ON CONFLICT (user_id) DO UPDATE SET balance = wallets.balance + excluded.balance, charged = wallets.charged + excluded.charged
    WHERE wallets.balance = p_balance;
  IF NOT FOUND THEN PERFORM usher_conflict('the balance changed'); END IF;
  IF p_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (user_id, key, fingerprint, result, created_at)
      VALUES (p_user, p_key, p_fingerprint, p_result, p_created_at) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN PERFORM usher_conflict('the idempotency key was taken'); END IF;
  END IF;
END $fn$;

-- tokenIssued: as usher_apply (migration 002) does it.
CREATE FUNCTION usher_issue(
  p_now bigint, p_token text, p_user text, p_status text, p_issued_at bigint, p_expires_at bigint,
  p_waiting_ttl bigint, p_max_active bigint,
  OUT o_seq bigint, OUT o_gone bigint, OUT o_tick bigint
) LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_user_lock(p_user);
  IF p_status = 'active' THEN
    -- Admitted at once: only while nobody waits and there is room, checked under the step lock.
    PERFORM pg_advisory_xact_lock(29556, 2);
    IF EXISTS (SELECT 1 FROM tokens WHERE status = 'waiting' AND last_seen_at > p_now - p_waiting_ttl) THEN
      PERFORM usher_conflict('someone is waiting');
    END IF;
    IF (SELECT count(*) FROM tokens WHERE status = 'active' AND expires_at > p_now) >= p_max_active THEN
      PERFORM usher_conflict('no room under maxActive');
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

CREATE FUNCTION usher_hold_many(
  p_now bigint[], p_user text[], p_token text[], p_held integer[],
  p_id text[], p_schedule text[], p_seat integer[], p_price bigint[], p_status text[], p_created_at bigint[], p_expires_at bigint[],
  p_stale text[], p_stale_at bigint[], p_extend_to bigint[]
) RETURNS TABLE (o_err text, o_msg text, o_seq bigint, o_gone bigint, o_tick bigint) LANGUAGE plpgsql AS $fn$
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_now, 1), 0) LOOP
    o_err := NULL; o_msg := NULL;
    BEGIN
      PERFORM usher_hold(p_now[i], p_user[i], p_token[i], p_held[i], p_id[i], p_schedule[i], p_seat[i], p_price[i], p_status[i],
                         p_created_at[i], p_expires_at[i], p_stale[i], p_stale_at[i], p_extend_to[i]);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o_err = RETURNED_SQLSTATE, o_msg = MESSAGE_TEXT;
    END;
    RETURN NEXT;
  END LOOP;
END $fn$;

CREATE FUNCTION usher_pay_many(
  p_now bigint[], p_user text[], p_token text[], p_held integer[], p_balance bigint[],
  p_reservation text[], p_paid_at bigint[],
  p_payment text[], p_amount bigint[], p_new_balance bigint[], p_created_at bigint[],
  p_key text[], p_fingerprint text[], p_result jsonb[],
  p_keep_until bigint[]
) RETURNS TABLE (o_err text, o_msg text, o_seq bigint, o_gone bigint, o_tick bigint) LANGUAGE plpgsql AS $fn$
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_now, 1), 0) LOOP
    o_err := NULL; o_msg := NULL;
    BEGIN
      PERFORM usher_pay(p_now[i], p_user[i], p_token[i], p_held[i], p_balance[i], p_reservation[i], p_paid_at[i],
                        p_payment[i], p_amount[i], p_new_balance[i], p_created_at[i], p_key[i], p_fingerprint[i], p_result[i],
                        p_keep_until[i]);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o_err = RETURNED_SQLSTATE, o_msg = MESSAGE_TEXT;
    END;
    RETURN NEXT;
  END LOOP;
END $fn$;

CREATE FUNCTION usher_charge_many(
  p_now bigint[], p_user text[], p_token text[], p_balance bigint[], p_amount bigint[],
  p_key text[], p_fingerprint text[], p_result jsonb[], p_created_at bigint[]
) RETURNS TABLE (o_err text, o_msg text, o_seq bigint, o_gone bigint, o_tick bigint) LANGUAGE plpgsql AS $fn$
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_now, 1), 0) LOOP
    o_err := NULL; o_msg := NULL;
    BEGIN
      PERFORM usher_charge(p_now[i], p_user[i], p_token[i], p_balance[i], p_amount[i], p_key[i], p_fingerprint[i], p_result[i], p_created_at[i]);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o_err = RETURNED_SQLSTATE, o_msg = MESSAGE_TEXT;
    END;
    RETURN NEXT;
  END LOOP;
END $fn$;

CREATE FUNCTION usher_issue_many(
  p_now bigint[], p_token text[], p_user text[], p_status text[], p_issued_at bigint[], p_expires_at bigint[],
  p_waiting_ttl bigint[], p_max_active bigint[]
) RETURNS TABLE (o_err text, o_msg text, o_seq bigint, o_gone bigint, o_tick bigint) LANGUAGE plpgsql AS $fn$
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_now, 1), 0) LOOP
    o_err := NULL; o_msg := NULL; o_seq := NULL; o_gone := NULL; o_tick := NULL;
    BEGIN
      SELECT * INTO o_seq, o_gone, o_tick
        FROM usher_issue(p_now[i], p_token[i], p_user[i], p_status[i], p_issued_at[i], p_expires_at[i], p_waiting_ttl[i], p_max_active[i]);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o_err = RETURNED_SQLSTATE, o_msg = MESSAGE_TEXT;
    END;
    RETURN NEXT;
  END LOOP;
END $fn$;
`;
