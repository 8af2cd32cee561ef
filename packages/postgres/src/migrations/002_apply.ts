/**
 * `usher_apply(changes, now, assume)`: applies one decision's `StateChange`s
 * in one round trip, each as a conditional write that restates what the
 * decision assumed. When a condition no longer holds (another engine won a
 * race), it raises SQLSTATE `UR409` and the whole command rolls back: the
 * engine then reads the state again and decides again.
 *
 * `assume` holds the facts of the view the decision read:
 * - `userId`: the acting user. Their commands are applied one at a time (an
 *   advisory lock on the user), so per-user facts checked here stay true
 *   until the commit.
 * - `token`: must still be active at `now`.
 * - `heldByUser`: how many live holds the user had (the hold limit, and
 *   whether a payment completes the token).
 * - `balance`: the user's balance (what the answer's balance was computed from).
 * - `waitingTtlMs`, `maxActive`: for a token admitted at once, which takes the
 *   keeper's step lock so that admissions never pass `maxActive`.
 *
 * Returns `{ seq, gone, tick }` for a new waiting token: its sequence number,
 * how many tokens without a line and with a smaller number were abandoned
 * (not yet removed by a step), and the last published step.
 */
export const apply = /* sql */ `
CREATE FUNCTION usher_conflict(p_message text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'UR409', MESSAGE = p_message;
END $fn$;

CREATE FUNCTION usher_apply(p_changes jsonb, p_now bigint, p_assume jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  c jsonb;
  x jsonb;
  v_user text := p_assume->>'userId';
  v_count bigint;
  v_seq bigint;
  v_result jsonb := '{}'::jsonb;
BEGIN
  IF v_user IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(29557, hashtext(v_user));
  END IF;
  IF p_assume ? 'token' THEN
    PERFORM 1 FROM tokens WHERE token = p_assume->>'token' AND status = 'active' AND expires_at > p_now;
    IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;
  END IF;
  IF p_assume ? 'heldByUser' THEN
    SELECT count(*) INTO v_count FROM reservations WHERE user_id = v_user AND status = 'held' AND expires_at > p_now;
    IF v_count <> (p_assume->>'heldByUser')::bigint THEN PERFORM usher_conflict('the user''s holds changed'); END IF;
  END IF;
  IF p_assume ? 'balance' THEN
    SELECT coalesce((SELECT balance FROM wallets WHERE user_id = v_user), 0) INTO v_count;
    IF v_count <> (p_assume->>'balance')::bigint THEN PERFORM usher_conflict('the balance changed'); END IF;
  END IF;

  FOR c IN SELECT value FROM jsonb_array_elements(p_changes) LOOP
    CASE c->>'type'
    WHEN 'tokenIssued' THEN
      x := c->'token';
      IF x->>'status' = 'active' THEN
        -- Admitted at once: only while nobody waits and there is room, checked under the step lock.
        PERFORM pg_advisory_xact_lock(29556, 2);
        IF EXISTS (SELECT 1 FROM tokens WHERE status = 'waiting' AND last_seen_at > p_now - (p_assume->>'waitingTtlMs')::bigint) THEN
          PERFORM usher_conflict('someone is waiting');
        END IF;
        SELECT count(*) INTO v_count FROM tokens WHERE status = 'active' AND expires_at > p_now;
        IF v_count >= (p_assume->>'maxActive')::bigint THEN PERFORM usher_conflict('no room under maxActive'); END IF;
      END IF;
      IF x->>'status' = 'waiting' THEN
        -- Shared with other arrivals, exclusive with keeper steps: a step never runs while a drawn
        -- number is unsettled, so the numbers a step has seen are final (see queue_ticks.seq_end).
        PERFORM pg_advisory_xact_lock_shared(29556, 2);
        v_seq := nextval('token_seq');
      END IF;
      -- The user's active token past its deadline, which no step has removed yet, ends now (it is in no line).
      DELETE FROM tokens WHERE user_id = x->>'userId' AND status = 'active' AND expires_at <= p_now;
      INSERT INTO tokens (token, user_id, status, seq, issued_at, expires_at, last_seen_at)
        VALUES (x->>'token', x->>'userId', x->>'status', v_seq, (x->>'issuedAt')::bigint, (x->>'expiresAt')::bigint, p_now)
        ON CONFLICT (user_id) WHERE status IN ('waiting', 'active') DO NOTHING;
      IF NOT FOUND THEN PERFORM usher_conflict('the user has a live token'); END IF;
      IF x->>'status' = 'waiting' THEN
        v_result := jsonb_build_object(
          'seq', v_seq,
          -- Only a step older than waitingTtl can leave abandoned arrivals behind (see goneBelow in views.ts).
          'gone', CASE WHEN p_now - (p_assume->>'waitingTtlMs')::bigint
                            < coalesce((SELECT at FROM queue_ticks ORDER BY no DESC LIMIT 1), 0) THEN 0
                       ELSE (SELECT count(*) FROM tokens
                              WHERE status = 'waiting' AND line IS NULL AND seq <= v_seq
                                AND last_seen_at <= p_now - (p_assume->>'waitingTtlMs')::bigint) END,
          'tick', (SELECT coalesce(max(no), 0) FROM queue_ticks));
      END IF;

    WHEN 'tokenExtended' THEN
      UPDATE tokens SET expires_at = greatest(expires_at, (c->>'expiresAt')::bigint)
        WHERE token = c->>'token' AND status = 'active' AND expires_at > p_now;
      IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;

    WHEN 'tokenCompleted' THEN
      UPDATE tokens SET status = 'expired', expires_at = (c->>'keepUntil')::bigint
        WHERE token = c->>'token' AND status = 'active' AND expires_at > p_now;
      IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;

    WHEN 'reservationHeld' THEN
      x := c->'reservation';
      INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, status, created_at, expires_at)
        VALUES (x->>'id', x->>'userId', x->>'scheduleId', (x->>'seatNo')::integer, (x->>'price')::bigint,
                x->>'status', (x->>'createdAt')::bigint, (x->>'expiresAt')::bigint)
        ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
      IF NOT FOUND THEN PERFORM usher_conflict('the seat was taken'); END IF;

    WHEN 'reservationEnded' THEN
      IF c->>'status' = 'expired' THEN
        -- A stale hold a decision found past its deadline: whoever expires it first, it ends at its deadline.
        UPDATE reservations SET status = 'expired', ended_at = (c->>'at')::bigint
          WHERE id = c->>'id' AND status = 'held' AND expires_at <= p_now;
      ELSE
        UPDATE reservations SET status = c->>'status', ended_at = (c->>'at')::bigint
          WHERE id = c->>'id' AND status = 'held' AND expires_at > p_now;
        IF NOT FOUND THEN PERFORM usher_conflict('the hold is no longer held'); END IF;
      END IF;

    WHEN 'walletCredited' THEN
      INSERT INTO wallets (user_id, balance, charged, paid)
        VALUES (c->>'userId', (c->>'amount')::bigint, (c->>'amount')::bigint, 0)
        ON CONFLICT (user_id) DO UPDATE
          SET balance = wallets.balance + excluded.balance, charged = wallets.charged + excluded.charged;

    WHEN 'paymentMade' THEN
      x := c->'payment';
      UPDATE wallets SET balance = balance - (x->>'amount')::bigint, paid = paid + (x->>'amount')::bigint
        WHERE user_id = x->>'userId' AND balance = (x->>'balance')::bigint + (x->>'amount')::bigint;
      IF NOT FOUND THEN PERFORM usher_conflict('the balance changed'); END IF;
      INSERT INTO payments (id, reservation_id, user_id, amount, balance, created_at)
        VALUES (x->>'id', x->>'reservationId', x->>'userId', (x->>'amount')::bigint, (x->>'balance')::bigint,
                (x->>'createdAt')::bigint);

    WHEN 'keyRemembered' THEN
      x := c->'record';
      INSERT INTO idempotency_keys (user_id, key, fingerprint, result, created_at)
        VALUES (x->>'userId', x->>'key', x->>'fingerprint', x->'result', (x->>'createdAt')::bigint)
        ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN PERFORM usher_conflict('the idempotency key was taken'); END IF;

    WHEN 'catalogAdded' THEN
      FOR x IN SELECT value FROM jsonb_array_elements(c->'concerts') LOOP
        INSERT INTO concerts (id, record) VALUES (x->>'id', x) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN PERFORM usher_conflict('the concert was added meanwhile'); END IF;
      END LOOP;
      FOR x IN SELECT value FROM jsonb_array_elements(c->'schedules') LOOP
        INSERT INTO schedules (id, concert_id, starts_at, total_seats, record)
          VALUES (x->>'id', x->>'concertId', x->>'startsAt', (x->>'totalSeats')::integer, x)
          ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN PERFORM usher_conflict('the schedule was added meanwhile'); END IF;
      END LOOP;

    ELSE
      RAISE EXCEPTION 'usher_apply: cannot apply a change of type %', c->>'type';
    END CASE;
  END LOOP;
  RETURN v_result;
END $fn$;
`;
