/**
 * The waitlist's writes (SPEC §11): joining, leaving, and the offers that
 * every freeing of seats carries out in its own transaction
 * (`usher_offer`). They decide nothing: the shared rules
 * (`decideJoinWaitlist`, `decideLeaveWaitlist`, `decideOffers`) did; each
 * restates what its decision read, raising `UR409` when it no longer holds
 * (the engine decides again), and touches exactly the rows decided
 * (`usher_expect_rows`).
 */
export const applies = /* sql */ `
-- What seats freed together do (decideOffers), after the change that freed them, in its transaction:
-- p_entries is the head of p_schedule's list the decision read (its first p_limit entries, p_limit the
-- seats freed: [{ user_id, seq, quantity, offered }]); under the waitlist lock held shared, locked in seq
-- order, it must still be that (else UR409: decide again). Then the holds offered (p_holds: reservations,
-- origin 'waitlist'), each of its seats free or UR409, and each entry offered its seats (p_offers:
-- [{ user_id, seats }]: offered grows; at quantity the entry is gone). An empty head read: the seats go
-- back on sale, and the list must still be empty. Every gateway hears of the offers (usher_waitlist, at
-- commit).
CREATE FUNCTION usher_offer(p_schedule text, p_limit integer, p_entries json, p_holds json, p_offers json)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_head jsonb;
  v_count bigint;
BEGIN
  SELECT coalesce(jsonb_agg(jsonb_build_object('user_id', w.user_id, 'seq', w.seq, 'quantity', w.quantity,
                                               'offered', w.offered) ORDER BY w.seq), '[]')
    INTO v_head FROM usher_waitlist_head(p_schedule, p_limit) w;
  IF v_head IS DISTINCT FROM (
       SELECT coalesce(jsonb_agg(jsonb_build_object('user_id', e.user_id, 'seq', e.seq, 'quantity', e.quantity,
                                                    'offered', e.offered) ORDER BY e.seq), '[]')
         FROM json_to_recordset(p_entries) AS e (user_id text, seq bigint, quantity integer, offered integer)) THEN
    PERFORM usher_conflict('the waitlist changed');
  END IF;
  IF json_array_length(p_offers) = 0 THEN
    PERFORM usher_expect_rows('holds offered without offers', json_array_length(p_holds), 0);
    RETURN;
  END IF;
  INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, seats, amount, status, created_at, expires_at, origin)
    SELECT h.id, h.user_id, p_schedule, h.seat_no, h.price, h.seats, h.amount, h.status, h.created_at, h.expires_at, 'waitlist'
      FROM json_populate_recordset(NULL::reservations, p_holds) h
    -- The arbiter is reservations_live_seat; every other seat, reservation_seats_live (usher_seats_added).
    ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count <> json_array_length(p_holds) THEN PERFORM usher_conflict('a seat offered was taken'); END IF;
  WITH o AS (SELECT * FROM json_to_recordset(p_offers) AS x (user_id text, seats integer)),
       more AS (UPDATE waitlist w SET offered = w.offered + o.seats FROM o
                 WHERE w.schedule_id = p_schedule AND w.user_id = o.user_id AND w.offered + o.seats < w.quantity
                RETURNING 1),
       done AS (DELETE FROM waitlist w USING o
                 WHERE w.schedule_id = p_schedule AND w.user_id = o.user_id AND w.offered + o.seats = w.quantity
                RETURNING 1)
  SELECT (SELECT count(*) FROM more) + (SELECT count(*) FROM done) INTO v_count;
  PERFORM usher_expect_rows('waitlist entries offered seats', v_count, json_array_length(p_offers));
  PERFORM pg_notify('usher_waitlist', p_schedule);
END $fn$;

-- joinWaitlist: waitlistJoined. Under the schedule's waitlist lock (exclusive): the token still active,
-- still no seat for sale, the list as long and the user's tickets as the decision read; the entry goes
-- last (its seq drawn now). Answers its seq and place.
CREATE TYPE usher_waitlist_join AS (
  now bigint, user_id text, token text, tickets integer, length integer,
  schedule_id text, quantity integer, joined_at bigint
);
CREATE FUNCTION usher_apply(a usher_waitlist_join) RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  v waitlist;
BEGIN
  PERFORM usher_lock_waitlist(a.schedule_id);
  PERFORM usher_require_active(a.token, a.now, NULL);
  IF usher_seats_for_sale(a.schedule_id, a.now) <> 0 THEN PERFORM usher_conflict('a seat is for sale'); END IF;
  IF (SELECT count(*) FROM waitlist w WHERE w.schedule_id = a.schedule_id) <> a.length THEN
    PERFORM usher_conflict('the waitlist changed');
  END IF;
  IF usher_ticket_count(a.user_id, a.schedule_id, a.now) <> a.tickets THEN
    PERFORM usher_conflict('the user''s tickets changed');
  END IF;
  INSERT INTO waitlist (schedule_id, user_id, quantity, offered, joined_at)
    VALUES (a.schedule_id, a.user_id, a.quantity, 0, a.joined_at)
    ON CONFLICT DO NOTHING
  RETURNING * INTO v;
  IF NOT FOUND THEN PERFORM usher_conflict('the user joined meanwhile'); END IF;
  RETURN json_build_object('seq', v.seq, 'position', usher_waitlist_position(v));
END $fn$;

-- leaveWaitlist: waitlistLeft. The entry is still there as the decision read it (offered as many seats).
CREATE TYPE usher_waitlist_leave AS (now bigint, user_id text, schedule_id text, offered integer);
CREATE FUNCTION usher_apply(a usher_waitlist_leave) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM waitlist w WHERE w.schedule_id = a.schedule_id AND w.user_id = a.user_id AND w.offered = a.offered;
  IF NOT FOUND THEN PERFORM usher_conflict('the entry changed'); END IF;
  PERFORM pg_notify('usher_waitlist', a.schedule_id);
  RETURN NULL;
END $fn$;

-- The token the decision read is still one of the user's the engine knows (an offered hold's owner acts
-- with any known token of theirs, not only an active one).
CREATE FUNCTION usher_require_known(p_token text, p_user text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM tokens t WHERE t.token = p_token AND t.user_id = p_user;
  IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer known'); END IF;
END $fn$;

-- The reservation is a hold offered to p_user from the waitlist (what let the decision take a known token).
CREATE FUNCTION usher_require_offer(p_reservation text, p_user text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM reservations r WHERE r.id = p_reservation AND r.user_id = p_user AND usher_offered(r);
  IF NOT FOUND THEN PERFORM usher_conflict('not a hold offered to the user'); END IF;
END $fn$;

-- cancelReservation: reservationEnded (cancelled) + the offers of its seats (decideOffers). An offered
-- hold (known: decided with a known token) is cancelled with any known token of its owner's; any other, as
-- migration 1's usher_cancel.
CREATE TYPE usher_cancel_offers AS (
  now bigint, user_id text, token text, reservation_id text, status text, at bigint, known boolean,
  schedule_id text, head integer, entries json, holds json, offers json
);
CREATE FUNCTION usher_apply(a usher_cancel_offers) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  IF a.known THEN
    PERFORM usher_lock_user(a.user_id);
    PERFORM usher_require_known(a.token, a.user_id);
    PERFORM usher_require_offer(a.reservation_id, a.user_id);
    PERFORM usher_end_hold(a.reservation_id, a.status, a.at, a.now);
  ELSE
    PERFORM usher_apply(ROW(a.now, a.user_id, a.token, a.reservation_id, a.status, a.at)::usher_cancel);
  END IF;
  PERFORM usher_offer(a.schedule_id, a.head, a.entries, a.holds, a.offers);
  RETURN NULL;
END $fn$;

-- refund: as migration 8's usher_refund, and the offer of its seat (decideOffers).
CREATE TYPE usher_refund_offers AS (
  now bigint, user_id text, ticket_id text, amount bigint, at bigint, refunded_by text,
  key text, fingerprint text, result json,
  schedule_id text, head integer, entries json, holds json, offers json
);
CREATE FUNCTION usher_apply(a usher_refund_offers) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_apply(ROW(a.now, a.user_id, a.ticket_id, a.amount, a.at, a.refunded_by,
                          a.key, a.fingerprint, a.result)::usher_refund);
  PERFORM usher_offer(a.schedule_id, a.head, a.entries, a.holds, a.offers);
  RETURN NULL;
END $fn$;

-- extendReservation of an offered hold: reservationExtended, with any known token of its owner (no token
-- is extended: an offered hold is no turn's). As migration 3's usher_extend otherwise.
CREATE TYPE usher_extend_offer AS (
  now bigint, user_id text, token text, reservation_id text, expires_at bigint, extensions integer
);
CREATE FUNCTION usher_apply(a usher_extend_offer) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_known(a.token, a.user_id);
  UPDATE reservations r SET expires_at = a.expires_at, extensions = a.extensions
   WHERE r.id = a.reservation_id AND r.user_id = a.user_id AND usher_offered(r) AND usher_hold_live(r, a.now)
     AND r.extensions = a.extensions - 1;
  IF NOT FOUND THEN PERFORM usher_conflict('the hold changed'); END IF;
  RETURN NULL;
END $fn$;

-- pay for an offered hold: reservationEnded (paid) + paymentMade + ticketsIssued (+ keyRemembered), with any
-- known token of its owner; no token completes (an offered hold ends no turn). As migration 8's
-- usher_pay_tickets otherwise: the live holds and the balance still what the decision read.
CREATE TYPE usher_pay_offer AS (
  now bigint, user_id text, token text, held integer, balance bigint,
  reservation_id text, paid_at bigint,
  payment_id text, amount bigint, new_balance bigint, created_at bigint,
  key text, fingerprint text, result json,
  tickets json
);
CREATE FUNCTION usher_apply(a usher_pay_offer) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_known(a.token, a.user_id);
  PERFORM usher_require_holds(a.user_id, a.now, a.held);
  PERFORM usher_require_offer(a.reservation_id, a.user_id);
  PERFORM usher_end_hold(a.reservation_id, 'paid', a.paid_at, a.now);
  UPDATE wallets w SET balance = w.balance - a.amount, paid = w.paid + a.amount
    WHERE w.user_id = a.user_id AND w.balance = a.balance AND w.balance - a.amount = a.new_balance;
  IF NOT FOUND THEN PERFORM usher_conflict('the balance changed'); END IF;
  INSERT INTO payments (id, reservation_id, user_id, amount, balance, created_at)
    VALUES (a.payment_id, a.reservation_id, a.user_id, a.amount, a.new_balance, a.created_at);
  PERFORM usher_remember_key(a.user_id, a.key, a.fingerprint, a.result, a.created_at);
  PERFORM usher_issue_tickets(a.reservation_id, a.tickets);
  RETURN NULL;
END $fn$;
`;
