/**
 * Issue 23's writes (SPEC §11): tickets written with their payment, and the
 * applies of a check-in, a refund and a transfer. Each moves a ticket out of
 * `valid` by a conditional update (`usher_ticket_valid`): of a check-in, a
 * refund and a transfer of one ticket at once, on any gateways, exactly one
 * finds it valid; the others find nothing, raise `UR409`, read again and
 * are answered by the rule as they would be now (`ALREADY_CHECKED_IN`,
 * `TICKET_VOID`, a replayed idempotent answer). A refund frees its seat in
 * the same transaction: sellable again at once.
 */
export const applies = /* sql */ `
-- The tickets of a reservation just paid (p_tickets: [{ id, seat_no, price, holder, created_at }]): exactly
-- one per seat of it, each one of its paid seats, or nothing is applied (UR500).
CREATE FUNCTION usher_issue_tickets(p_reservation text, p_tickets json) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  INSERT INTO tickets (id, reservation_id, schedule_id, seat_no, price, holder, status, created_at)
    SELECT j.id, s.reservation_id, s.schedule_id, s.seat_no, j.price, j.holder, 'valid', j.created_at
      FROM json_populate_recordset(NULL::tickets, p_tickets) j
      JOIN reservation_seats s ON s.reservation_id = p_reservation AND s.seat_no = j.seat_no AND s.status = 'paid'
     WHERE j.holder = s.user_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('tickets of a payment', v_count, json_array_length(p_tickets));
  PERFORM usher_expect_rows('tickets of a payment', v_count,
                            (SELECT usher_seat_count(r) FROM reservations r WHERE r.id = p_reservation));
END $fn$;

-- The seat of a ticket that was refunded is for sale again: its row of reservation_seats leaves the live
-- ones (reservation_seats' statuses are a reservation's; 'cancelled': that seat's sale was undone), a paid
-- seat less for sold-out, and a reservation that started at it moves its seat_no out of the way (see
-- parked_seats), keeping its seats as they were.
CREATE FUNCTION usher_free_ticket_seat(p_reservation text, p_seat integer) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  UPDATE reservation_seats s SET status = 'cancelled'
   WHERE s.reservation_id = p_reservation AND s.seat_no = p_seat AND s.status = 'paid';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('the seat of a refunded ticket', v_count, 1);
  INSERT INTO paid_log (n) VALUES (-1);
  -- and a paid seat less for its concert's room, when it has one (migration 7's room_paid_log).
  INSERT INTO room_paid_log (room, n)
    SELECT c.concert_id, -1 FROM reservations r JOIN schedules c ON c.id = r.schedule_id
      JOIN rooms ro ON ro.id = c.concert_id
     WHERE r.id = p_reservation;
  UPDATE reservations r
     SET seat_no = (SELECT c.total_seats FROM schedules c WHERE c.id = r.schedule_id) + nextval('parked_seats'),
         seats = coalesce(r.seats, jsonb_build_array(jsonb_build_object('seatNo', r.seat_no, 'price', r.price)))
   WHERE r.id = p_reservation AND r.seat_no = p_seat;
END $fn$;

-- pay: as usher_pay (migration 1), and the reservation's tickets (ticketsIssued).
CREATE TYPE usher_pay_tickets AS (
  now bigint, user_id text, token text, held integer, balance bigint,
  reservation_id text, paid_at bigint,
  payment_id text, amount bigint, new_balance bigint, created_at bigint,
  key text, fingerprint text, result json,
  keep_until bigint,
  tickets json
);
CREATE FUNCTION usher_apply(a usher_pay_tickets) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_apply(ROW(a.now, a.user_id, a.token, a.held, a.balance, a.reservation_id, a.paid_at,
                          a.payment_id, a.amount, a.new_balance, a.created_at, a.key, a.fingerprint, a.result,
                          a.keep_until)::usher_pay);
  PERFORM usher_issue_tickets(a.reservation_id, a.tickets);
  RETURN NULL;
END $fn$;

-- reserve (any body): as usher_order (migration 3), counting the user's tickets as tickets are now
-- (usher_ticket_count: refunded and given-away ones no more, received ones too).
CREATE TYPE usher_order_tickets AS (
  now bigint, user_id text, token text, held integer, tickets integer,
  id text, schedule_id text, seat_no integer, price bigint, seats json, amount bigint,
  status text, created_at bigint, expires_at bigint,
  stale_ids text[], stale_ats bigint[], extend_to bigint
);
CREATE FUNCTION usher_apply(a usher_order_tickets) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  IF usher_ticket_count(a.user_id, a.schedule_id, a.now) <> a.tickets THEN
    PERFORM usher_conflict('the user''s tickets changed');
  END IF;
  -- Under the user's lock migration 3's count holds still: its own check passes as it is.
  PERFORM usher_apply(ROW(a.now, a.user_id, a.token, a.held, usher_tickets(a.user_id, a.schedule_id, a.now),
                          a.id, a.schedule_id, a.seat_no, a.price, a.seats, a.amount, a.status, a.created_at,
                          a.expires_at, a.stale_ids, a.stale_ats, a.extend_to)::usher_order);
  RETURN NULL;
END $fn$;

-- checkIn: ticketCheckedIn. Exactly one of any number at once finds the ticket valid.
CREATE TYPE usher_check_in AS (now bigint, ticket_id text, at bigint);
CREATE FUNCTION usher_apply(a usher_check_in) RETURNS json LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE tickets t SET status = 'checked_in', checked_in_at = a.at WHERE t.id = a.ticket_id AND usher_ticket_valid(t);
  IF NOT FOUND THEN PERFORM usher_conflict('the ticket is no longer valid'); END IF;
  RETURN NULL;
END $fn$;

-- refund: ticketChanged (refunded) + walletRefunded (the holder's, by the price) + seatFreed (+ keyRemembered,
-- the holder's). The ticket is still valid and the holder's. No balance is restated: a refund only adds,
-- whatever else moved the wallet meanwhile (maxBalance does not apply to it).
CREATE TYPE usher_refund AS (
  now bigint, user_id text, ticket_id text, amount bigint, at bigint, refunded_by text,
  key text, fingerprint text, result json
);
CREATE FUNCTION usher_apply(a usher_refund) RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  v tickets;
BEGIN
  PERFORM usher_lock_user(a.user_id);
  UPDATE tickets t SET status = 'refunded', ended_at = a.at, refunded_by = a.refunded_by
   WHERE t.id = a.ticket_id AND t.holder = a.user_id AND usher_ticket_valid(t)
  RETURNING * INTO v;
  IF NOT FOUND THEN PERFORM usher_conflict('the ticket is no longer valid'); END IF;
  PERFORM usher_expect_rows('the refund of a ticket''s price', a.amount, v.price);
  INSERT INTO wallets AS w (user_id, balance, charged, paid, refunded) VALUES (a.user_id, a.amount, a.amount, 0, a.amount)
    ON CONFLICT (user_id) DO UPDATE
      SET balance = w.balance + excluded.balance, charged = w.charged + excluded.charged,
          refunded = w.refunded + excluded.refunded;
  PERFORM usher_free_ticket_seat(v.reservation_id, v.seat_no);
  PERFORM usher_remember_key(a.user_id, a.key, a.fingerprint, a.result, a.at);
  RETURN NULL;
END $fn$;

-- transfer: ticketChanged (transferred) + ticketsIssued (the receiver's new one, valid) (+ keyRemembered).
-- Both users' commands wait (their locks, in one order); the ticket is still valid and the giver's, and
-- the receiver's tickets of the schedule still what the decision read.
CREATE TYPE usher_transfer AS (
  now bigint, user_id text, to_user_id text, to_tickets integer, ticket_id text, new_id text, at bigint,
  key text, fingerprint text, result json
);
CREATE FUNCTION usher_apply(a usher_transfer) RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  v tickets;
BEGIN
  PERFORM usher_lock_user(u) FROM unnest(ARRAY[a.user_id, a.to_user_id]) u ORDER BY hashtext(u), u;
  IF usher_ticket_count(a.to_user_id, (SELECT t.schedule_id FROM tickets t WHERE t.id = a.ticket_id), a.now)
     <> a.to_tickets THEN
    PERFORM usher_conflict('the receiver''s tickets changed');
  END IF;
  UPDATE tickets t SET status = 'transferred', transferred_to = a.new_id, ended_at = a.at
   WHERE t.id = a.ticket_id AND t.holder = a.user_id AND usher_ticket_valid(t)
  RETURNING * INTO v;
  IF NOT FOUND THEN PERFORM usher_conflict('the ticket is no longer valid'); END IF;
  INSERT INTO tickets (id, reservation_id, schedule_id, seat_no, price, holder, status, transferred_from, created_at)
    VALUES (a.new_id, v.reservation_id, v.schedule_id, v.seat_no, v.price, a.to_user_id, 'valid', v.id, a.at);
  PERFORM usher_remember_key(a.user_id, a.key, a.fingerprint, a.result, a.at);
  RETURN NULL;
END $fn$;
`;
