/**
 * How a command's decision is applied: `usher_apply(<kind>)`, one overload
 * per kind of command, each taking the decision's facts as one composite
 * value with named fields (the engine sends them as JSON objects, see
 * `src/applies/`). Each writes what the shared rule decided, as conditional
 * writes that restate what the decision assumed: when one no longer holds
 * (another engine won a race) it raises `UR409` and the engine decides again.
 * They decide nothing themselves.
 *
 * `usher_apply_each(NULL::<kind>, items)` applies a batch of one kind in one
 * statement (group commit: one round trip and one WAL flush for the lot),
 * each item in a subtransaction of its own: one that fails is rolled back
 * alone and answers its SQLSTATE; the others commit together. A new kind is a
 * new type and a new overload; this loop serves it unchanged. The engine
 * sends at most 64 items at a time (a backend caches 64 subtransactions).
 */
export const applies = /* sql */ `
CREATE TYPE usher_outcome AS (err text, msg text, result json);

CREATE FUNCTION usher_apply_each(p_kind anyelement, p_items json) RETURNS SETOF usher_outcome
LANGUAGE plpgsql AS $fn$
DECLARE
  o usher_outcome;
BEGIN
  -- The parameter is the loop's record: one of p_kind's type, whatever kind it is.
  FOR p_kind IN SELECT * FROM json_populate_recordset(p_kind, p_items) LOOP
    o := NULL;
    BEGIN
      o.result := usher_apply(p_kind);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS o.err = RETURNED_SQLSTATE, o.msg = MESSAGE_TEXT;
    END;
    RETURN NEXT o;
  END LOOP;
END $fn$;

-- The decision's token is still active at p_now; with p_extend_to, it now lasts at least until then.
CREATE FUNCTION usher_require_active(p_token text, p_now bigint, p_extend_to bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_extend_to IS NULL THEN
    PERFORM 1 FROM tokens t WHERE t.token = p_token AND usher_token_active(t, p_now);
  ELSE
    UPDATE tokens t SET expires_at = greatest(t.expires_at, p_extend_to)
      WHERE t.token = p_token AND usher_token_active(t, p_now);
  END IF;
  IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;
END $fn$;

-- The user has p_held live holds, as the decision read.
CREATE FUNCTION usher_require_holds(p_user text, p_now bigint, p_held integer) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF usher_live_holds(p_user, p_now) <> p_held THEN PERFORM usher_conflict('the user''s holds changed'); END IF;
END $fn$;

-- held → p_status at p_at: paid or cancelled end a live hold (or conflict); expired ends an overdue one,
-- whoever ends it first (a hold a decision found past its deadline ends at its deadline).
CREATE FUNCTION usher_end_hold(p_id text, p_status text, p_at bigint, p_now bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_status = 'expired' THEN
    UPDATE reservations r SET status = 'expired', ended_at = p_at WHERE r.id = p_id AND usher_hold_overdue(r, p_now);
    RETURN;
  END IF;
  UPDATE reservations r SET status = p_status, ended_at = p_at WHERE r.id = p_id AND usher_hold_live(r, p_now);
  IF NOT FOUND THEN PERFORM usher_conflict('the hold is no longer held'); END IF;
END $fn$;

-- An idempotency key and its answer, with the effect it answers for (none for a command without a key).
CREATE FUNCTION usher_remember_key(p_user text, p_key text, p_fingerprint text, p_result json, p_created_at bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_key IS NULL THEN RETURN; END IF;
  INSERT INTO idempotency_keys (user_id, key, fingerprint, result, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_result, p_created_at) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN PERFORM usher_conflict('the idempotency key was taken'); END IF;
END $fn$;

-- reserve: reservationHeld (+ reservationEnded of a stale hold on the seat, + tokenExtended).
CREATE TYPE usher_hold AS (
  now bigint, user_id text, token text, held integer,
  id text, schedule_id text, seat_no integer, price bigint, status text, created_at bigint, expires_at bigint,
  stale_id text, stale_at bigint, extend_to bigint
);
CREATE FUNCTION usher_apply(a usher_hold) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, a.extend_to);
  PERFORM usher_require_holds(a.user_id, a.now, a.held);
  IF a.stale_id IS NOT NULL THEN PERFORM usher_end_hold(a.stale_id, 'expired', a.stale_at, a.now); END IF;
  INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, status, created_at, expires_at)
    VALUES (a.id, a.user_id, a.schedule_id, a.seat_no, a.price, a.status, a.created_at, a.expires_at)
    -- The arbiter is reservations_live_seat (usher_reservation_live): one live reservation per seat.
    ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
  IF NOT FOUND THEN PERFORM usher_conflict('the seat was taken'); END IF;
  RETURN NULL;
END $fn$;

-- cancelReservation: reservationEnded (cancelled).
CREATE TYPE usher_cancel AS (now bigint, user_id text, token text, reservation_id text, status text, at bigint);
CREATE FUNCTION usher_apply(a usher_cancel) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, NULL);
  PERFORM usher_end_hold(a.reservation_id, a.status, a.at, a.now);
  RETURN NULL;
END $fn$;

-- pay: reservationEnded (paid) + paymentMade (+ keyRemembered, + tokenCompleted). The balance must
-- still be the one the decision read.
CREATE TYPE usher_pay AS (
  now bigint, user_id text, token text, held integer, balance bigint,
  reservation_id text, paid_at bigint,
  payment_id text, amount bigint, new_balance bigint, created_at bigint,
  key text, fingerprint text, result json,
  keep_until bigint
);
CREATE FUNCTION usher_apply(a usher_pay) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  IF a.keep_until IS NULL THEN
    PERFORM usher_require_active(a.token, a.now, NULL);
  ELSE
    -- tokenCompleted: the token expires now, kept until keep_until for replays.
    UPDATE tokens t SET status = 'expired', expires_at = a.keep_until WHERE t.token = a.token AND usher_token_active(t, a.now);
    IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;
  END IF;
  PERFORM usher_require_holds(a.user_id, a.now, a.held);
  PERFORM usher_end_hold(a.reservation_id, 'paid', a.paid_at, a.now);
  UPDATE wallets w SET balance = w.balance - a.amount, paid = w.paid + a.amount
    WHERE w.user_id = a.user_id AND w.balance = a.balance AND w.balance - a.amount = a.new_balance;
  IF NOT FOUND THEN PERFORM usher_conflict('the balance changed'); END IF;
  INSERT INTO payments (id, reservation_id, user_id, amount, balance, created_at)
    VALUES (a.payment_id, a.reservation_id, a.user_id, a.amount, a.new_balance, a.created_at);
  PERFORM usher_remember_key(a.user_id, a.key, a.fingerprint, a.result, a.created_at);
  RETURN NULL;
END $fn$;

-- charge: walletCredited (+ keyRemembered). The balance must still be the one the decision read (no
-- wallet reads as 0; wallets are never deleted, so a balance read above 0 has a row).
CREATE TYPE usher_charge AS (
  now bigint, user_id text, token text, balance bigint, amount bigint,
  key text, fingerprint text, result json, created_at bigint
);
CREATE FUNCTION usher_apply(a usher_charge) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, NULL);
  INSERT INTO wallets AS w (user_id, balance, charged, paid) VALUES (a.user_id, a.amount, a.amount, 0)
    ON CONFLICT (user_id) DO UPDATE SET balance = w.balance + excluded.balance, charged = w.charged + excluded.charged
    WHERE w.balance = a.balance;
  IF NOT FOUND THEN PERFORM usher_conflict('the balance changed'); END IF;
  PERFORM usher_remember_key(a.user_id, a.key, a.fingerprint, a.result, a.created_at);
  RETURN NULL;
END $fn$;

-- loadCatalog: catalogAdded. Every entry decided new is inserted, or none is.
CREATE TYPE usher_catalog AS (concerts json, schedules json);
CREATE FUNCTION usher_apply(a usher_catalog) RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  INSERT INTO concerts (id, record) SELECT c->>'id', c FROM json_array_elements(a.concerts) c ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count <> json_array_length(a.concerts) THEN PERFORM usher_conflict('a concert was added meanwhile'); END IF;
  INSERT INTO schedules (id, concert_id, starts_at, total_seats, record)
    SELECT s->>'id', s->>'concertId', s->>'startsAt', (s->>'totalSeats')::integer, s FROM json_array_elements(a.schedules) s
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count <> json_array_length(a.schedules) THEN PERFORM usher_conflict('a schedule was added meanwhile'); END IF;
  RETURN NULL;
END $fn$;

-- Polls of waiting tokens at p_now, recorded lazily: only where the recorded one is older than p_slack
-- (most polls stay reads), never for a token abandoned meanwhile. Answers the tokens recorded now.
CREATE FUNCTION usher_record_polls(p_tokens text[], p_now bigint, p_waiting_ttl bigint, p_slack bigint)
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY
    UPDATE tokens t SET last_seen_at = p_now
     WHERE t.token = ANY (p_tokens) AND usher_waiter_present(t, p_now, p_waiting_ttl) AND t.last_seen_at < p_now - p_slack
    RETURNING t.token;
END $fn$;
`;
