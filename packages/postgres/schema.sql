-- The schema @usher/postgres's migrations build (pg_dump 15, normalized).
-- Generated: pnpm --filter @usher/postgres schema:dump. Do not edit; a test compares it.

--
-- PostgreSQL database dump
--

--
-- Name: usher_cancel; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_cancel AS (
	now bigint,
	user_id text,
	token text,
	reservation_id text,
	status text,
	at bigint
);

--
-- Name: usher_cancel_offers; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_cancel_offers AS (
	now bigint,
	user_id text,
	token text,
	reservation_id text,
	status text,
	at bigint,
	known boolean,
	schedule_id text,
	head integer,
	entries json,
	holds json,
	offers json
);

--
-- Name: usher_catalog; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_catalog AS (
	concerts json,
	schedules json
);

--
-- Name: usher_charge; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_charge AS (
	now bigint,
	user_id text,
	token text,
	balance bigint,
	amount bigint,
	key text,
	fingerprint text,
	result json,
	created_at bigint
);

--
-- Name: usher_check_in; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_check_in AS (
	now bigint,
	ticket_id text,
	at bigint
);

--
-- Name: usher_code_issue; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_code_issue AS (
	now bigint,
	token text,
	user_id text,
	status text,
	issued_at bigint,
	expires_at bigint,
	waiting_ttl bigint,
	max_active integer,
	code_hash text,
	code_room text
);

--
-- Name: usher_extend; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_extend AS (
	now bigint,
	user_id text,
	token text,
	reservation_id text,
	expires_at bigint,
	extensions integer,
	extend_to bigint
);

--
-- Name: usher_extend_offer; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_extend_offer AS (
	now bigint,
	user_id text,
	token text,
	reservation_id text,
	expires_at bigint,
	extensions integer
);

--
-- Name: usher_hold; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_hold AS (
	now bigint,
	user_id text,
	token text,
	held integer,
	id text,
	schedule_id text,
	seat_no integer,
	price bigint,
	status text,
	created_at bigint,
	expires_at bigint,
	stale_id text,
	stale_at bigint,
	extend_to bigint
);

--
-- Name: usher_issue; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_issue AS (
	now bigint,
	token text,
	user_id text,
	status text,
	issued_at bigint,
	expires_at bigint,
	waiting_ttl bigint,
	max_active integer
);

--
-- Name: usher_order; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_order AS (
	now bigint,
	user_id text,
	token text,
	held integer,
	tickets integer,
	id text,
	schedule_id text,
	seat_no integer,
	price bigint,
	seats json,
	amount bigint,
	status text,
	created_at bigint,
	expires_at bigint,
	stale_ids text[],
	stale_ats bigint[],
	extend_to bigint
);

--
-- Name: usher_order_tickets; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_order_tickets AS (
	now bigint,
	user_id text,
	token text,
	held integer,
	tickets integer,
	id text,
	schedule_id text,
	seat_no integer,
	price bigint,
	seats json,
	amount bigint,
	status text,
	created_at bigint,
	expires_at bigint,
	stale_ids text[],
	stale_ats bigint[],
	extend_to bigint
);

--
-- Name: usher_outcome; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_outcome AS (
	err text,
	msg text,
	result json
);

--
-- Name: usher_pay; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_pay AS (
	now bigint,
	user_id text,
	token text,
	held integer,
	balance bigint,
	reservation_id text,
	paid_at bigint,
	payment_id text,
	amount bigint,
	new_balance bigint,
	created_at bigint,
	key text,
	fingerprint text,
	result json,
	keep_until bigint
);

--
-- Name: usher_pay_offer; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_pay_offer AS (
	now bigint,
	user_id text,
	token text,
	held integer,
	balance bigint,
	reservation_id text,
	paid_at bigint,
	payment_id text,
	amount bigint,
	new_balance bigint,
	created_at bigint,
	key text,
	fingerprint text,
	result json,
	tickets json
);

--
-- Name: usher_pay_tickets; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_pay_tickets AS (
	now bigint,
	user_id text,
	token text,
	held integer,
	balance bigint,
	reservation_id text,
	paid_at bigint,
	payment_id text,
	amount bigint,
	new_balance bigint,
	created_at bigint,
	key text,
	fingerprint text,
	result json,
	keep_until bigint,
	tickets json
);

--
-- Name: usher_refund; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_refund AS (
	now bigint,
	user_id text,
	ticket_id text,
	amount bigint,
	at bigint,
	refunded_by text,
	key text,
	fingerprint text,
	result json
);

--
-- Name: usher_refund_offers; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_refund_offers AS (
	now bigint,
	user_id text,
	ticket_id text,
	amount bigint,
	at bigint,
	refunded_by text,
	key text,
	fingerprint text,
	result json,
	schedule_id text,
	head integer,
	entries json,
	holds json,
	offers json
);

--
-- Name: usher_room_code_issue; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_room_code_issue AS (
	now bigint,
	token text,
	user_id text,
	status text,
	issued_at bigint,
	expires_at bigint,
	waiting_ttl bigint,
	max_active integer,
	room text,
	code_hash text,
	code_room text
);

--
-- Name: usher_room_issue; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_room_issue AS (
	now bigint,
	token text,
	user_id text,
	status text,
	issued_at bigint,
	expires_at bigint,
	waiting_ttl bigint,
	max_active integer,
	room text
);

--
-- Name: usher_transfer; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_transfer AS (
	now bigint,
	user_id text,
	to_user_id text,
	to_tickets integer,
	ticket_id text,
	new_id text,
	at bigint,
	key text,
	fingerprint text,
	result json
);

--
-- Name: usher_waitlist_join; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_waitlist_join AS (
	now bigint,
	user_id text,
	token text,
	tickets integer,
	length integer,
	schedule_id text,
	quantity integer,
	joined_at bigint
);

--
-- Name: usher_waitlist_leave; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.usher_waitlist_leave AS (
	now bigint,
	user_id text,
	schedule_id text,
	offered integer
);

--
-- Name: usher_abandon(text[], bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_abandon(p_tokens text[], p_now bigint, p_waiting_ttl bigint) RETURNS bigint[]
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_lines bigint[];
  v_count bigint;
BEGIN
  WITH gone AS (
    DELETE FROM tokens t WHERE t.token = ANY (p_tokens) AND usher_waiter_abandoned(t, p_now, p_waiting_ttl)
    RETURNING t.line
  )
  SELECT count(*), coalesce(array_agg(line) FILTER (WHERE line IS NOT NULL), '{}') INTO v_count, v_lines FROM gone;
  PERFORM usher_expect_rows('waiting tokens abandoned', v_count, cardinality(p_tokens));
  RETURN v_lines;
END $$;

--
-- Name: usher_abandoned(bigint, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_abandoned(p_last_seen bigint, p_now bigint, p_waiting_ttl bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT p_last_seen <= p_now - p_waiting_ttl $$;

--
-- Name: usher_active_bound(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_active_bound() RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN (SELECT CASE WHEN usher_last_tick() - b.tick > 1000 THEN NULL
                      ELSE b.bound + (SELECT coalesce(sum(admitted), 0) FROM queue_ticks WHERE no > b.tick) END
            FROM active_bound b WHERE b.id = 1);
END $$;

--
-- Name: room; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.room (
    id integer NOT NULL,
    paused boolean NOT NULL,
    admit_per_tick integer NOT NULL,
    max_active integer NOT NULL,
    opens_at bigint,
    shuffle boolean NOT NULL,
    pending_opening boolean NOT NULL,
    sold_out boolean DEFAULT false NOT NULL,
    admitted_total bigint DEFAULT 0 NOT NULL,
    paid_seats bigint DEFAULT 0 NOT NULL,
    draw_seed text,
    draw_from bigint,
    draw_to bigint,
    draw_cursor bigint,
    CONSTRAINT room_admit_per_tick_check CHECK ((admit_per_tick > 0)),
    CONSTRAINT room_admitted_total_check CHECK ((admitted_total >= 0)),
    CONSTRAINT room_check CHECK (((NOT pending_opening) OR (opens_at IS NOT NULL))),
    CONSTRAINT room_check1 CHECK ((((draw_seed IS NULL) = (draw_from IS NULL)) AND ((draw_seed IS NULL) = (draw_to IS NULL)))),
    CONSTRAINT room_id_check CHECK ((id = 1)),
    CONSTRAINT room_max_active_check CHECK ((max_active > 0)),
    CONSTRAINT room_paid_seats_check CHECK ((paid_seats >= 0))
);

--
-- Name: usher_admission_at_issue(public.room, public.usher_issue, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_admission_at_issue(p_room public.room, a public.usher_issue, p_bound bigint) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_admit(bigint[], bigint, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_admit(p_lines bigint[], p_expires_at bigint, p_decided integer) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  PERFORM usher_expect_rows('lines picked for admission', cardinality(p_lines), p_decided);
  UPDATE tokens SET status = 'active', expires_at = p_expires_at WHERE line = ANY (p_lines) AND status = 'waiting';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('tokens admitted', v_count, p_decided);
  PERFORM usher_count_admitted(v_count);
END $$;

--
-- Name: usher_admit_heads(text[], bigint[], integer[], bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_admit_heads(p_rooms text[], p_afters bigint[], p_counts integer[], p_expires_at bigint) RETURNS TABLE(room text, lines bigint[])
    LANGUAGE plpgsql
    AS $$
DECLARE
  i integer;
  v_lines bigint[];
BEGIN
  FOR i IN 1 .. coalesce(cardinality(p_rooms), 0) LOOP
    WITH picked AS MATERIALIZED (
      SELECT t.line FROM tokens t
       WHERE t.status = 'waiting' AND t.room = p_rooms[i] AND t.line > p_afters[i]
       ORDER BY t.line LIMIT p_counts[i] FOR UPDATE
    )
    SELECT coalesce(array_agg(picked.line ORDER BY picked.line), '{}') INTO v_lines FROM picked;
    PERFORM usher_admit_in_room(p_rooms[i], v_lines, p_expires_at, p_counts[i]);
    room := p_rooms[i];
    lines := v_lines;
    RETURN NEXT;
  END LOOP;
END $$;

--
-- Name: usher_admit_in_room(text, bigint[], bigint, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_admit_in_room(p_room text, p_lines bigint[], p_expires_at bigint, p_decided integer) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  PERFORM usher_expect_rows('lines picked for admission', cardinality(p_lines), p_decided);
  UPDATE tokens SET status = 'active', expires_at = p_expires_at
   WHERE room = p_room AND line = ANY (p_lines) AND status = 'waiting';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('tokens admitted', v_count, p_decided);
  PERFORM usher_count_admitted_in(p_room, v_count);
END $$;

--
-- Name: usher_apply(public.usher_cancel); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_cancel) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, NULL);
  PERFORM usher_end_hold(a.reservation_id, a.status, a.at, a.now);
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_cancel_offers); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_cancel_offers) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_catalog); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_catalog) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_charge); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_charge) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, NULL);
  INSERT INTO wallets AS w (user_id, balance, charged, paid) VALUES (a.user_id, a.amount, a.amount, 0)
    ON CONFLICT (user_id) DO UPDATE SET balance = w.balance + excluded.balance, charged = w.charged + excluded.charged
    WHERE w.balance = a.balance;
  IF NOT FOUND THEN PERFORM usher_conflict('the balance changed'); END IF;
  PERFORM usher_remember_key(a.user_id, a.key, a.fingerprint, a.result, a.created_at);
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_check_in); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_check_in) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  UPDATE tickets t SET status = 'checked_in', checked_in_at = a.at WHERE t.id = a.ticket_id AND usher_ticket_valid(t);
  IF NOT FOUND THEN PERFORM usher_conflict('the ticket is no longer valid'); END IF;
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_extend); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_extend) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, a.extend_to);
  UPDATE reservations r SET expires_at = a.expires_at, extensions = a.extensions
   WHERE r.id = a.reservation_id AND r.user_id = a.user_id AND usher_hold_live(r, a.now)
     AND r.extensions = a.extensions - 1;
  IF NOT FOUND THEN PERFORM usher_conflict('the hold changed'); END IF;
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_extend_offer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_extend_offer) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_known(a.token, a.user_id);
  UPDATE reservations r SET expires_at = a.expires_at, extensions = a.extensions
   WHERE r.id = a.reservation_id AND r.user_id = a.user_id AND usher_offered(r) AND usher_hold_live(r, a.now)
     AND r.extensions = a.extensions - 1;
  IF NOT FOUND THEN PERFORM usher_conflict('the hold changed'); END IF;
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_hold); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_hold) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_order); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_order) RETURNS json
    LANGUAGE plpgsql
    AS $$
DECLARE
  i integer;
BEGIN
  PERFORM usher_lock_user(a.user_id);
  PERFORM usher_require_active(a.token, a.now, a.extend_to);
  PERFORM usher_require_holds(a.user_id, a.now, a.held);
  IF usher_tickets(a.user_id, a.schedule_id, a.now) <> a.tickets THEN
    PERFORM usher_conflict('the user''s tickets changed');
  END IF;
  FOR i IN 1 .. coalesce(cardinality(a.stale_ids), 0) LOOP
    PERFORM usher_end_hold(a.stale_ids[i], 'expired', a.stale_ats[i], a.now);
  END LOOP;
  INSERT INTO reservations (id, user_id, schedule_id, seat_no, price, seats, amount, status, created_at, expires_at)
    VALUES (a.id, a.user_id, a.schedule_id, a.seat_no, a.price, a.seats::jsonb, a.amount, a.status, a.created_at, a.expires_at)
    ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
  IF NOT FOUND THEN PERFORM usher_conflict('the seat was taken'); END IF;
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_order_tickets); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_order_tickets) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_pay); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_pay) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_pay_offer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_pay_offer) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_pay_tickets); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_pay_tickets) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM usher_apply(ROW(a.now, a.user_id, a.token, a.held, a.balance, a.reservation_id, a.paid_at,
                          a.payment_id, a.amount, a.new_balance, a.created_at, a.key, a.fingerprint, a.result,
                          a.keep_until)::usher_pay);
  PERFORM usher_issue_tickets(a.reservation_id, a.tickets);
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_refund); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_refund) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_refund_offers); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_refund_offers) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM usher_apply(ROW(a.now, a.user_id, a.ticket_id, a.amount, a.at, a.refunded_by,
                          a.key, a.fingerprint, a.result)::usher_refund);
  PERFORM usher_offer(a.schedule_id, a.head, a.entries, a.holds, a.offers);
  RETURN NULL;
END $$;

--
-- Name: usher_apply(public.usher_transfer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_transfer) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_waitlist_join); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_waitlist_join) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_apply(public.usher_waitlist_leave); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply(a public.usher_waitlist_leave) RETURNS json
    LANGUAGE plpgsql
    AS $$
BEGIN
  DELETE FROM waitlist w WHERE w.schedule_id = a.schedule_id AND w.user_id = a.user_id AND w.offered = a.offered;
  IF NOT FOUND THEN PERFORM usher_conflict('the entry changed'); END IF;
  PERFORM pg_notify('usher_waitlist', a.schedule_id);
  RETURN NULL;
END $$;

--
-- Name: usher_apply_each(anyelement, json); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_apply_each(p_kind anyelement, p_items json) RETURNS SETOF public.usher_outcome
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tokens (
    token text NOT NULL,
    user_id text NOT NULL,
    status text NOT NULL,
    seq bigint,
    line bigint,
    issued_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    reason text,
    room text DEFAULT 'default'::text NOT NULL,
    CONSTRAINT tokens_reason_check CHECK ((reason = 'sold_out'::text)),
    CONSTRAINT tokens_reason_expired CHECK (((reason IS NULL) OR (status = 'expired'::text))),
    CONSTRAINT tokens_room_check CHECK ((room <> ''::text)),
    CONSTRAINT tokens_status_check CHECK ((status = ANY (ARRAY['waiting'::text, 'active'::text, 'expired'::text])))
);

--
-- Name: usher_arrival(public.tokens); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_arrival(t public.tokens) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT t.status = 'waiting' AND t.line IS NULL $$;

--
-- Name: usher_balance(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_balance(p_user text) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN coalesce((SELECT balance FROM wallets WHERE user_id = p_user), 0);
END $$;

--
-- Name: usher_conflict(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_conflict(p_message text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'UR409', MESSAGE = p_message;
END $$;

--
-- Name: usher_count_admitted(bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_count_admitted(p_count bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF p_count > 0 THEN UPDATE room SET admitted_total = admitted_total + p_count WHERE id = 1; END IF;
END $$;

--
-- Name: usher_count_admitted_in(text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_count_admitted_in(p_room text, p_count bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  IF p_count <= 0 THEN RETURN; END IF;
  IF p_room = 'default' THEN
    PERFORM usher_count_admitted(p_count);
  ELSE
    UPDATE rooms SET admitted_total = admitted_total + p_count WHERE id = p_room;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM usher_expect_rows('room counting admissions', v_count, 1);
  END IF;
END $$;

--
-- Name: usher_end_hold(text, text, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_end_hold(p_id text, p_status text, p_at bigint, p_now bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF p_status = 'expired' THEN
    UPDATE reservations r SET status = 'expired', ended_at = p_at WHERE r.id = p_id AND usher_hold_overdue(r, p_now);
    RETURN;
  END IF;
  UPDATE reservations r SET status = p_status, ended_at = p_at WHERE r.id = p_id AND usher_hold_live(r, p_now);
  IF NOT FOUND THEN PERFORM usher_conflict('the hold is no longer held'); END IF;
END $$;

--
-- Name: usher_expect_rows(text, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_expect_rows(p_what text, p_done bigint, p_decided bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF p_done IS DISTINCT FROM p_decided THEN
    RAISE EXCEPTION USING ERRCODE = 'UR500',
      MESSAGE = format('%s: %s rows where %s were decided; nothing is applied', p_what, p_done, p_decided);
  END IF;
END $$;

--
-- Name: usher_expire_holds(text[], bigint[], bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_expire_holds(p_ids text[], p_ats bigint[], p_now bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  UPDATE reservations r SET status = 'expired', ended_at = x.at
    FROM unnest(p_ids, p_ats) AS x (id, at)
   WHERE r.id = x.id AND usher_hold_overdue(r, p_now);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('holds expired', v_count, cardinality(p_ids));
END $$;

--
-- Name: usher_expire_tokens(text[], bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_expire_tokens(p_tokens text[], p_now bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  DELETE FROM tokens t WHERE t.token = ANY (p_tokens) AND usher_token_overdue(t, p_now);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('active tokens expired', v_count, cardinality(p_tokens));
END $$;

--
-- Name: usher_free_ticket_seat(text, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_free_ticket_seat(p_reservation text, p_seat integer) RETURNS void
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_gone_below(bigint, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_gone_below(p_seq bigint, p_now bigint, p_waiting_ttl bigint) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  IF NOT usher_abandoned(coalesce((SELECT at FROM queue_ticks ORDER BY no DESC LIMIT 1), 0), p_now, p_waiting_ttl) THEN
    RETURN 0;
  END IF;
  RETURN (SELECT count(*) FROM tokens w
           WHERE usher_arrival(w) AND usher_waiter_abandoned(w, p_now, p_waiting_ttl) AND w.seq <= p_seq);
END $$;

--
-- Name: reservations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.reservations (
    id text NOT NULL,
    user_id text NOT NULL,
    schedule_id text NOT NULL,
    seat_no integer NOT NULL,
    price bigint NOT NULL,
    status text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    ended_at bigint,
    seats jsonb,
    amount bigint,
    extensions integer DEFAULT 0 NOT NULL,
    origin text,
    CONSTRAINT reservations_amount_check CHECK ((amount > 0)),
    CONSTRAINT reservations_extensions_check CHECK ((extensions >= 0)),
    CONSTRAINT reservations_origin_check CHECK ((origin = 'waitlist'::text)),
    CONSTRAINT reservations_price_check CHECK ((price > 0)),
    CONSTRAINT reservations_seat_no_check CHECK ((seat_no > 0)),
    CONSTRAINT reservations_seats_check CHECK (((jsonb_typeof(seats) = 'array'::text) AND (jsonb_array_length(seats) > 0))),
    CONSTRAINT reservations_status_check CHECK ((status = ANY (ARRAY['held'::text, 'paid'::text, 'expired'::text, 'cancelled'::text])))
);

--
-- Name: usher_hold_live(public.reservations, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_hold_live(r public.reservations, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT r.status = 'held' AND NOT usher_past(r.expires_at, p_now) $$;

--
-- Name: usher_hold_overdue(public.reservations, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_hold_overdue(r public.reservations, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT r.status = 'held' AND usher_past(r.expires_at, p_now) $$;

--
-- Name: usher_issue_in_room_many(json); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_issue_in_room_many(p_items json) RETURNS SETOF public.usher_outcome
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_issue_many(json); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_issue_many(p_items json) RETURNS SETOF public.usher_outcome
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_issue_tickets(text, json); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_issue_tickets(p_reservation text, p_tickets json) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  INSERT INTO tickets (id, reservation_id, schedule_id, seat_no, price, holder, status, created_at)
    SELECT j.id, s.reservation_id, s.schedule_id, s.seat_no, j.price, j.holder, 'valid', j.created_at
      FROM json_populate_recordset(NULL::tickets, p_tickets) j
      JOIN reservation_seats s ON s.reservation_id = p_reservation AND s.seat_no = j.seat_no AND (SELECT s.status = 'paid')
     WHERE j.holder = s.user_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('tickets of a payment', v_count, json_array_length(p_tickets));
  PERFORM usher_expect_rows('tickets of a payment', v_count,
                            (SELECT usher_seat_count(r) FROM reservations r WHERE r.id = p_reservation));
END $$;

--
-- Name: usher_issue_with_code_in_room_many(json); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_issue_with_code_in_room_many(p_items json) RETURNS SETOF public.usher_outcome
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_issue_with_code_many(json); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_issue_with_code_many(p_items json) RETURNS SETOF public.usher_outcome
    LANGUAGE plpgsql
    AS $$
DECLARE
  a usher_code_issue;
  o usher_outcome;
  v_issued usher_outcome;
BEGIN
  FOR a IN SELECT * FROM json_populate_recordset(NULL::usher_code_issue, p_items) LOOP
    o := NULL;
    BEGIN
      UPDATE presale_codes SET spent_at = a.now
       WHERE hash = a.code_hash AND room = a.code_room AND spent_at IS NULL;
      IF NOT FOUND THEN PERFORM usher_conflict('the presale code is spent or unknown'); END IF;
      SELECT * INTO v_issued FROM usher_issue_many(json_build_array(row_to_json(a)));
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
END $$;

--
-- Name: usher_last_tick(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_last_tick() RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN coalesce((SELECT max(no) FROM queue_ticks), 0);
END $$;

--
-- Name: usher_line_up(text[], bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_line_up(p_tokens text[], p_after bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  UPDATE tokens t SET line = p_after + x.n
    FROM unnest(p_tokens) WITH ORDINALITY AS x (token, n)
   WHERE t.token = x.token AND usher_arrival(t);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('arrivals lined up', v_count, cardinality(p_tokens));
END $$;

--
-- Name: usher_live_holds(text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_live_holds(p_user text, p_now bigint) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN (SELECT count(*) FILTER (WHERE usher_hold_live(r, p_now)) FROM reservations r
           WHERE r.user_id = p_user AND r.status = 'held');
END $$;

--
-- Name: usher_lock_arrivals(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_lock_arrivals() RETURNS void
    LANGUAGE sql
    AS $$ SELECT pg_advisory_xact_lock_shared(29556, 2) $$;

--
-- Name: usher_lock_steps(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_lock_steps() RETURNS void
    LANGUAGE sql
    AS $$ SELECT pg_advisory_xact_lock(29556, 2) $$;

--
-- Name: usher_lock_user(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_lock_user(p_user text) RETURNS void
    LANGUAGE sql
    AS $$ SELECT pg_advisory_xact_lock(29557, hashtext(p_user)) $$;

--
-- Name: usher_lock_waitlist(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_lock_waitlist(p_schedule text) RETURNS void
    LANGUAGE sql
    AS $$ SELECT pg_advisory_xact_lock(29558, hashtext(p_schedule)) $$;

--
-- Name: usher_lock_waitlist_shared(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_lock_waitlist_shared(p_schedule text) RETURNS void
    LANGUAGE sql
    AS $$ SELECT pg_advisory_xact_lock_shared(29558, hashtext(p_schedule)) $$;

--
-- Name: usher_log_paid(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_log_paid() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  INSERT INTO paid_log (n) VALUES (1);
  RETURN NULL;
END $$;

--
-- Name: usher_log_room_paid(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_log_room_paid() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  INSERT INTO room_paid_log (room, n)
    SELECT s.concert_id, usher_seat_count(NEW) FROM schedules s JOIN rooms ro ON ro.id = s.concert_id
     WHERE s.id = NEW.schedule_id;
  RETURN NULL;
END $$;

--
-- Name: usher_offer(text, integer, json, json, json); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_offer(p_schedule text, p_limit integer, p_entries json, p_holds json, p_offers json) RETURNS void
    LANGUAGE plpgsql
    AS $$
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
END $$;

--
-- Name: usher_offered(public.reservations); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_offered(r public.reservations) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT r.origin IS NOT DISTINCT FROM 'waitlist' $$;

--
-- Name: usher_past(bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_past(p_deadline bigint, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT p_deadline <= p_now $$;

--
-- Name: usher_record_polls(text[], bigint, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_record_polls(p_tokens text[], p_now bigint, p_waiting_ttl bigint, p_slack bigint) RETURNS SETOF text
    LANGUAGE plpgsql
    AS $$
BEGIN
  RETURN QUERY
    UPDATE tokens t SET last_seen_at = p_now
     WHERE t.token = ANY (p_tokens) AND usher_waiter_present(t, p_now, p_waiting_ttl) AND t.last_seen_at < p_now - p_slack
    RETURNING t.token;
END $$;

--
-- Name: usher_remember_key(text, text, text, json, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_remember_key(p_user text, p_key text, p_fingerprint text, p_result json, p_created_at bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF p_key IS NULL THEN RETURN; END IF;
  INSERT INTO idempotency_keys (user_id, key, fingerprint, result, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_result, p_created_at) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN PERFORM usher_conflict('the idempotency key was taken'); END IF;
END $$;

--
-- Name: usher_require_active(text, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_require_active(p_token text, p_now bigint, p_extend_to bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF p_extend_to IS NULL THEN
    PERFORM 1 FROM tokens t WHERE t.token = p_token AND (SELECT usher_token_active(t, p_now));
  ELSE
    UPDATE tokens t SET expires_at = greatest(t.expires_at, p_extend_to)
      WHERE t.token = p_token AND (SELECT usher_token_active(t, p_now));
  END IF;
  IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer active'); END IF;
END $$;

--
-- Name: usher_require_holds(text, bigint, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_require_holds(p_user text, p_now bigint, p_held integer) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF usher_live_holds(p_user, p_now) <> p_held THEN PERFORM usher_conflict('the user''s holds changed'); END IF;
END $$;

--
-- Name: usher_require_known(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_require_known(p_token text, p_user text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM 1 FROM tokens t WHERE t.token = p_token AND t.user_id = p_user;
  IF NOT FOUND THEN PERFORM usher_conflict('the token is no longer known'); END IF;
END $$;

--
-- Name: usher_require_offer(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_require_offer(p_reservation text, p_user text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM 1 FROM reservations r WHERE r.id = p_reservation AND r.user_id = p_user AND usher_offered(r);
  IF NOT FOUND THEN PERFORM usher_conflict('not a hold offered to the user'); END IF;
END $$;

--
-- Name: usher_reservation_live(public.reservations); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_reservation_live(r public.reservations) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT r.status IN ('held', 'paid') $$;

--
-- Name: usher_room_admits(public.room); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_room_admits(r public.room) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT NOT (r.paused OR r.pending_opening OR r.sold_out) $$;

--
-- Name: rooms; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rooms (
    id text NOT NULL,
    paused boolean NOT NULL,
    admit_per_tick integer NOT NULL,
    max_active integer NOT NULL,
    opens_at bigint,
    shuffle boolean NOT NULL,
    pending_opening boolean NOT NULL,
    sold_out boolean DEFAULT false NOT NULL,
    admitted_total bigint DEFAULT 0 NOT NULL,
    paid_seats bigint DEFAULT 0 NOT NULL,
    draw_seed text,
    draw_from bigint,
    draw_to bigint,
    draw_cursor bigint,
    CONSTRAINT rooms_admit_per_tick_check CHECK ((admit_per_tick > 0)),
    CONSTRAINT rooms_admitted_total_check CHECK ((admitted_total >= 0)),
    CONSTRAINT rooms_check CHECK (((NOT pending_opening) OR (opens_at IS NOT NULL))),
    CONSTRAINT rooms_check1 CHECK ((((draw_seed IS NULL) = (draw_from IS NULL)) AND ((draw_seed IS NULL) = (draw_to IS NULL)))),
    CONSTRAINT rooms_id_check CHECK (((id <> ''::text) AND (id <> 'default'::text))),
    CONSTRAINT rooms_max_active_check CHECK ((max_active > 0)),
    CONSTRAINT rooms_paid_seats_check CHECK ((paid_seats >= 0))
);

--
-- Name: room_states; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.room_states AS
 SELECT 'default'::text AS id,
    room.paused,
    room.admit_per_tick,
    room.max_active,
    room.opens_at,
    room.shuffle,
    room.pending_opening,
    room.sold_out,
    room.admitted_total,
    room.paid_seats,
    room.draw_seed,
    room.draw_from,
    room.draw_to,
    room.draw_cursor
   FROM public.room
  WHERE (room.id = 1)
UNION ALL
 SELECT rooms.id,
    rooms.paused,
    rooms.admit_per_tick,
    rooms.max_active,
    rooms.opens_at,
    rooms.shuffle,
    rooms.pending_opening,
    rooms.sold_out,
    rooms.admitted_total,
    rooms.paid_seats,
    rooms.draw_seed,
    rooms.draw_from,
    rooms.draw_to,
    rooms.draw_cursor
   FROM public.rooms;

--
-- Name: usher_room_state_admits(public.room_states); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_room_state_admits(r public.room_states) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT NOT (r.paused OR r.pending_opening OR r.sold_out) $$;

--
-- Name: usher_seat_count(public.reservations); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seat_count(r public.reservations) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(jsonb_array_length(r.seats), 1) $$;

--
-- Name: reservation_seats; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.reservation_seats (
    reservation_id text NOT NULL,
    seat_no integer NOT NULL,
    schedule_id text NOT NULL,
    user_id text NOT NULL,
    status text NOT NULL,
    expires_at bigint NOT NULL,
    CONSTRAINT reservation_seats_seat_no_check CHECK ((seat_no > 0)),
    CONSTRAINT reservation_seats_status_check CHECK ((status = ANY (ARRAY['held'::text, 'paid'::text, 'expired'::text, 'cancelled'::text])))
);

--
-- Name: usher_seat_live(public.reservation_seats); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seat_live(s public.reservation_seats) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT s.status IN ('held', 'paid') $$;

--
-- Name: usher_seat_occupied(public.reservation_seats, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seat_occupied(s public.reservation_seats, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT usher_seat_live(s) AND NOT (s.status = 'held' AND usher_past(s.expires_at, p_now)) $$;

--
-- Name: usher_seat_taken(public.reservations, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seat_taken(r public.reservations, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT usher_reservation_live(r) AND NOT usher_hold_overdue(r, p_now) $$;

--
-- Name: usher_seats_added(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seats_added() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  INSERT INTO reservation_seats (reservation_id, seat_no, schedule_id, user_id, status, expires_at)
    SELECT NEW.id, coalesce((e->>'seatNo')::integer, NEW.seat_no), NEW.schedule_id, NEW.user_id, NEW.status, NEW.expires_at
      FROM jsonb_array_elements(coalesce(NEW.seats, '[{}]'::jsonb)) e
    -- The arbiter is reservation_seats_live (usher_seat_live): no seat in two live reservations.
    ON CONFLICT (schedule_id, seat_no) WHERE status IN ('held', 'paid') DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count <> usher_seat_count(NEW) THEN PERFORM usher_conflict('a seat was taken'); END IF;
  RETURN NULL;
END $$;

--
-- Name: usher_seats_follow(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seats_follow() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_count bigint;
BEGIN
  UPDATE reservation_seats s SET status = NEW.status, expires_at = NEW.expires_at WHERE s.reservation_id = NEW.id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('seats of a reservation', v_count, usher_seat_count(NEW));
  IF NEW.status = 'paid' AND OLD.status <> 'paid' AND usher_seat_count(NEW) > 1 THEN
    INSERT INTO paid_log (n) VALUES (usher_seat_count(NEW) - 1);
  END IF;
  RETURN NULL;
END $$;

--
-- Name: usher_seats_for_sale(text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seats_for_sale(p_schedule text, p_now bigint) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN coalesce((SELECT s.total_seats - usher_seats_taken(s.id, p_now) FROM schedules s WHERE s.id = p_schedule), 0);
END $$;

--
-- Name: usher_seats_taken(text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_seats_taken(p_schedule text, p_now bigint) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN (SELECT count(*) FROM reservation_seats r WHERE r.schedule_id = p_schedule AND usher_seat_occupied(r, p_now));
END $$;

--
-- Name: usher_sell_out(bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_sell_out(p_waiting bigint) RETURNS bigint[]
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_lines bigint[];
BEGIN
  -- Every waiting token has a line by now (arrivals draw numbers only outside steps).
  WITH gone AS (DELETE FROM tokens WHERE status = 'waiting' RETURNING line)
  SELECT coalesce(array_agg(line), '{}') INTO v_lines FROM gone;
  PERFORM usher_expect_rows('waiting tokens sold out', cardinality(v_lines), p_waiting);
  RETURN v_lines;
END $$;

--
-- Name: usher_sell_out(bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_sell_out(p_waiting bigint, p_keep_until bigint) RETURNS bigint[]
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_lines bigint[];
BEGIN
  -- Every waiting token has a line by now (arrivals draw numbers only outside steps).
  WITH gone AS (
    UPDATE tokens SET status = 'expired', expires_at = p_keep_until, reason = 'sold_out'
     WHERE status = 'waiting' RETURNING line
  )
  SELECT coalesce(array_agg(line), '{}') INTO v_lines FROM gone;
  PERFORM usher_expect_rows('waiting tokens sold out', cardinality(v_lines), p_waiting);
  RETURN v_lines;
END $$;

--
-- Name: usher_sell_out_room(text, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_sell_out_room(p_room text, p_waiting bigint, p_keep_until bigint) RETURNS bigint[]
    LANGUAGE plpgsql
    AS $$
DECLARE
  v_lines bigint[];
BEGIN
  WITH gone AS (
    UPDATE tokens SET status = 'expired', expires_at = p_keep_until, reason = 'sold_out'
     WHERE room = p_room AND status = 'waiting' RETURNING line
  )
  SELECT coalesce(array_agg(line), '{}') INTO v_lines FROM gone;
  PERFORM usher_expect_rows('waiting tokens sold out', cardinality(v_lines), p_waiting);
  RETURN v_lines;
END $$;

--
-- Name: spent_challenges; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.spent_challenges (
    id text NOT NULL,
    expires_at bigint NOT NULL
);

--
-- Name: usher_spent_forgettable(public.spent_challenges, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_spent_forgettable(s public.spent_challenges, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT usher_past(s.expires_at, p_now) $$;

--
-- Name: usher_ticket_count(text, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_ticket_count(p_user text, p_schedule text, p_now bigint) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN (SELECT coalesce(sum(usher_seat_count(r)) FILTER (WHERE r.schedule_id = p_schedule AND usher_hold_live(r, p_now)), 0)
            FROM reservations r WHERE r.user_id = p_user AND r.status = 'held')
       + (SELECT count(*) FROM tickets t
           WHERE t.holder = p_user AND t.schedule_id = p_schedule AND usher_ticket_live(t));
END $$;

--
-- Name: tickets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tickets (
    id text NOT NULL,
    reservation_id text NOT NULL,
    schedule_id text NOT NULL,
    seat_no integer NOT NULL,
    price bigint NOT NULL,
    holder text NOT NULL,
    status text NOT NULL,
    checked_in_at bigint,
    ended_at bigint,
    refunded_by text,
    transferred_from text,
    transferred_to text,
    created_at bigint NOT NULL,
    CONSTRAINT tickets_check CHECK (((status = 'checked_in'::text) = (checked_in_at IS NOT NULL))),
    CONSTRAINT tickets_check1 CHECK (((status = ANY (ARRAY['refunded'::text, 'transferred'::text])) = (ended_at IS NOT NULL))),
    CONSTRAINT tickets_check2 CHECK (((status = 'transferred'::text) = (transferred_to IS NOT NULL))),
    CONSTRAINT tickets_check3 CHECK (((status = 'refunded'::text) = (refunded_by IS NOT NULL))),
    CONSTRAINT tickets_price_check CHECK ((price > 0)),
    CONSTRAINT tickets_refunded_by_check CHECK ((refunded_by = ANY (ARRAY['holder'::text, 'operator'::text]))),
    CONSTRAINT tickets_seat_no_check CHECK ((seat_no > 0)),
    CONSTRAINT tickets_status_check CHECK ((status = ANY (ARRAY['valid'::text, 'checked_in'::text, 'refunded'::text, 'transferred'::text])))
);

--
-- Name: usher_ticket_live(public.tickets); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_ticket_live(t public.tickets) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT t.status IN ('valid', 'checked_in') $$;

--
-- Name: usher_ticket_valid(public.tickets); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_ticket_valid(t public.tickets) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT t.status = 'valid' $$;

--
-- Name: usher_tickets(text, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_tickets(p_user text, p_schedule text, p_now bigint) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN (SELECT coalesce(sum(usher_seat_count(r)) FILTER (WHERE r.schedule_id = p_schedule AND usher_seat_taken(r, p_now)), 0)
            FROM reservations r WHERE r.user_id = p_user AND usher_reservation_live(r));
END $$;

--
-- Name: usher_token_active(public.tokens, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_token_active(t public.tokens, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT t.status = 'active' AND NOT usher_past(t.expires_at, p_now) $$;

--
-- Name: usher_token_overdue(public.tokens, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_token_overdue(t public.tokens, p_now bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT t.status = 'active' AND usher_past(t.expires_at, p_now) $$;

--
-- Name: usher_try_keeper(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_try_keeper() RETURNS boolean
    LANGUAGE sql
    AS $$ SELECT pg_try_advisory_lock(29556, 3) $$;

--
-- Name: usher_waiter_abandoned(public.tokens, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_waiter_abandoned(t public.tokens, p_now bigint, p_waiting_ttl bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT t.status = 'waiting' AND usher_abandoned(t.last_seen_at, p_now, p_waiting_ttl) $$;

--
-- Name: usher_waiter_present(public.tokens, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_waiter_present(t public.tokens, p_now bigint, p_waiting_ttl bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT t.status = 'waiting' AND NOT usher_abandoned(t.last_seen_at, p_now, p_waiting_ttl) $$;

--
-- Name: waitlist; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.waitlist (
    schedule_id text NOT NULL,
    user_id text NOT NULL,
    seq bigint NOT NULL,
    quantity integer NOT NULL,
    offered integer DEFAULT 0 NOT NULL,
    joined_at bigint NOT NULL,
    CONSTRAINT waitlist_check CHECK ((offered <= quantity)),
    CONSTRAINT waitlist_offered_check CHECK ((offered >= 0)),
    CONSTRAINT waitlist_quantity_check CHECK ((quantity > 0))
);

--
-- Name: usher_waitlist_head(text, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_waitlist_head(p_schedule text, p_limit integer) RETURNS SETOF public.waitlist
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM usher_lock_waitlist_shared(p_schedule);
  RETURN QUERY SELECT * FROM waitlist w WHERE w.schedule_id = p_schedule ORDER BY w.seq LIMIT p_limit FOR UPDATE;
END $$;

--
-- Name: usher_waitlist_position(public.waitlist); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.usher_waitlist_position(w public.waitlist) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  RETURN (SELECT count(*) FROM waitlist o WHERE o.schedule_id = w.schedule_id AND o.seq < w.seq) + 1;
END $$;

--
-- Name: active_bound; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.active_bound (
    id integer NOT NULL,
    bound bigint NOT NULL,
    tick bigint NOT NULL,
    CONSTRAINT active_bound_id_check CHECK ((id = 1))
);

--
-- Name: concerts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.concerts (
    id text NOT NULL,
    record jsonb NOT NULL
);

--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_keys (
    user_id text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    result jsonb NOT NULL,
    created_at bigint NOT NULL
);

--
-- Name: keeper; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.keeper (
    id integer NOT NULL,
    epoch bigint NOT NULL,
    holder text,
    CONSTRAINT keeper_id_check CHECK ((id = 1))
);

--
-- Name: paid_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.paid_log (
    n bigint NOT NULL
);

--
-- Name: parked_seats; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.parked_seats
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: payments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.payments (
    id text NOT NULL,
    reservation_id text NOT NULL,
    user_id text NOT NULL,
    amount bigint NOT NULL,
    balance bigint NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT payments_amount_check CHECK ((amount > 0)),
    CONSTRAINT payments_balance_check CHECK ((balance >= 0))
);

--
-- Name: presale_codes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.presale_codes (
    hash text NOT NULL,
    room text NOT NULL,
    created_at bigint NOT NULL,
    spent_at bigint
);

--
-- Name: priority_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.priority_tokens (
    token text NOT NULL,
    seq bigint NOT NULL
);

--
-- Name: queue_ticks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.queue_ticks (
    no bigint NOT NULL,
    at bigint NOT NULL,
    "real" boolean NOT NULL,
    line_end bigint NOT NULL,
    seq_end bigint NOT NULL,
    departed bigint[] NOT NULL,
    admitted integer NOT NULL,
    had_waiting boolean NOT NULL,
    waiting bigint NOT NULL,
    active bigint NOT NULL,
    next_abandon_at bigint NOT NULL,
    room jsonb,
    rooms jsonb
);

--
-- Name: room_paid_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.room_paid_log (
    room text NOT NULL,
    n bigint NOT NULL
);

--
-- Name: schedules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schedules (
    id text NOT NULL,
    concert_id text NOT NULL,
    starts_at text NOT NULL,
    total_seats integer NOT NULL,
    record jsonb NOT NULL,
    CONSTRAINT schedules_total_seats_check CHECK ((total_seats > 0))
);

--
-- Name: signing_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.signing_keys (
    kid text NOT NULL,
    use text NOT NULL,
    private_key text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    retired_at timestamp with time zone,
    CONSTRAINT signing_keys_use_check CHECK ((use = ANY (ARRAY['pass'::text, 'ticket'::text])))
);

--
-- Name: token_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.token_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: usher_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.usher_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: usher_rate_limits; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.usher_rate_limits (
    key character varying(255) NOT NULL,
    points integer DEFAULT 0 NOT NULL,
    expire bigint
);

--
-- Name: waitlist_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.waitlist ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.waitlist_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: wallets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.wallets (
    user_id text NOT NULL,
    balance bigint NOT NULL,
    charged bigint NOT NULL,
    paid bigint NOT NULL,
    refunded bigint DEFAULT 0 NOT NULL,
    CONSTRAINT wallets_balance_check CHECK ((balance >= 0)),
    CONSTRAINT wallets_charged_check CHECK ((charged >= 0)),
    CONSTRAINT wallets_check CHECK ((balance = (charged - paid))),
    CONSTRAINT wallets_paid_check CHECK ((paid >= 0)),
    CONSTRAINT wallets_refunded_check CHECK ((refunded >= 0)),
    CONSTRAINT wallets_refunds_credited CHECK ((refunded <= charged))
);

--
-- Name: active_bound active_bound_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.active_bound
    ADD CONSTRAINT active_bound_pkey PRIMARY KEY (id);

--
-- Name: concerts concerts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.concerts
    ADD CONSTRAINT concerts_pkey PRIMARY KEY (id);

--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key);

--
-- Name: keeper keeper_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.keeper
    ADD CONSTRAINT keeper_pkey PRIMARY KEY (id);

--
-- Name: payments payments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payments
    ADD CONSTRAINT payments_pkey PRIMARY KEY (id);

--
-- Name: payments payments_reservation_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payments
    ADD CONSTRAINT payments_reservation_id_key UNIQUE (reservation_id);

--
-- Name: presale_codes presale_codes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presale_codes
    ADD CONSTRAINT presale_codes_pkey PRIMARY KEY (hash);

--
-- Name: priority_tokens priority_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.priority_tokens
    ADD CONSTRAINT priority_tokens_pkey PRIMARY KEY (token);

--
-- Name: queue_ticks queue_ticks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.queue_ticks
    ADD CONSTRAINT queue_ticks_pkey PRIMARY KEY (no);

--
-- Name: reservation_seats reservation_seats_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reservation_seats
    ADD CONSTRAINT reservation_seats_pkey PRIMARY KEY (reservation_id, seat_no);

--
-- Name: reservations reservations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reservations
    ADD CONSTRAINT reservations_pkey PRIMARY KEY (id);

--
-- Name: room room_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room
    ADD CONSTRAINT room_pkey PRIMARY KEY (id);

--
-- Name: rooms rooms_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (id);

--
-- Name: schedules schedules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schedules
    ADD CONSTRAINT schedules_pkey PRIMARY KEY (id);

--
-- Name: signing_keys signing_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signing_keys
    ADD CONSTRAINT signing_keys_pkey PRIMARY KEY (kid);

--
-- Name: spent_challenges spent_challenges_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.spent_challenges
    ADD CONSTRAINT spent_challenges_pkey PRIMARY KEY (id);

--
-- Name: tickets tickets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tickets
    ADD CONSTRAINT tickets_pkey PRIMARY KEY (id);

--
-- Name: tickets tickets_transferred_from_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tickets
    ADD CONSTRAINT tickets_transferred_from_key UNIQUE (transferred_from);

--
-- Name: tickets tickets_transferred_to_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tickets
    ADD CONSTRAINT tickets_transferred_to_key UNIQUE (transferred_to);

--
-- Name: tokens tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_pkey PRIMARY KEY (token);

--
-- Name: usher_migrations usher_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.usher_migrations
    ADD CONSTRAINT usher_migrations_pkey PRIMARY KEY (version);

--
-- Name: usher_rate_limits usher_rate_limits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.usher_rate_limits
    ADD CONSTRAINT usher_rate_limits_pkey PRIMARY KEY (key);

--
-- Name: waitlist waitlist_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.waitlist
    ADD CONSTRAINT waitlist_pkey PRIMARY KEY (schedule_id, user_id);

--
-- Name: wallets wallets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_pkey PRIMARY KEY (user_id);

--
-- Name: idempotency_keys_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idempotency_keys_created ON public.idempotency_keys USING btree (created_at);

--
-- Name: priority_tokens_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX priority_tokens_seq ON public.priority_tokens USING btree (seq);

--
-- Name: reservation_seats_live; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX reservation_seats_live ON public.reservation_seats USING btree (schedule_id, seat_no) INCLUDE (status, expires_at) WHERE (status = ANY (ARRAY['held'::text, 'paid'::text]));

--
-- Name: reservations_ended; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX reservations_ended ON public.reservations USING btree (ended_at) WHERE (status = ANY (ARRAY['expired'::text, 'cancelled'::text]));

--
-- Name: reservations_held_by_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX reservations_held_by_user ON public.reservations USING btree (user_id) INCLUDE (expires_at) WHERE (status = 'held'::text);

--
-- Name: reservations_held_deadline; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX reservations_held_deadline ON public.reservations USING btree (expires_at) WHERE (status = 'held'::text);

--
-- Name: reservations_live_by_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX reservations_live_by_user ON public.reservations USING btree (user_id, created_at DESC) WHERE (status = ANY (ARRAY['held'::text, 'paid'::text]));

--
-- Name: reservations_live_seat; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX reservations_live_seat ON public.reservations USING btree (schedule_id, seat_no) INCLUDE (status, expires_at) WHERE (status = ANY (ARRAY['held'::text, 'paid'::text]));

--
-- Name: schedules_by_concert; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX schedules_by_concert ON public.schedules USING btree (concert_id);

--
-- Name: signing_keys_current; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX signing_keys_current ON public.signing_keys USING btree (use) WHERE (retired_at IS NULL);

--
-- Name: spent_challenges_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX spent_challenges_expiry ON public.spent_challenges USING btree (expires_at);

--
-- Name: tickets_by_holder; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tickets_by_holder ON public.tickets USING btree (holder, created_at DESC, id);

--
-- Name: tickets_by_reservation; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tickets_by_reservation ON public.tickets USING btree (reservation_id);

--
-- Name: tickets_live_by_holder; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tickets_live_by_holder ON public.tickets USING btree (holder, schedule_id) WHERE (status = ANY (ARRAY['valid'::text, 'checked_in'::text]));

--
-- Name: tickets_live_seat; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX tickets_live_seat ON public.tickets USING btree (schedule_id, seat_no) WHERE (status = ANY (ARRAY['valid'::text, 'checked_in'::text]));

--
-- Name: tokens_active_deadline; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_active_deadline ON public.tokens USING btree (expires_at) WHERE (status = 'active'::text);

--
-- Name: tokens_kept; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_kept ON public.tokens USING btree (expires_at) WHERE (status = 'expired'::text);

--
-- Name: tokens_last_seen; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_last_seen ON public.tokens USING btree (last_seen_at) WHERE (status = 'waiting'::text);

--
-- Name: tokens_live_user_room; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX tokens_live_user_room ON public.tokens USING btree (user_id, room) WHERE (status = ANY (ARRAY['waiting'::text, 'active'::text]));

--
-- Name: tokens_room_active; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_room_active ON public.tokens USING btree (room, expires_at) WHERE (status = 'active'::text);

--
-- Name: tokens_room_line; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX tokens_room_line ON public.tokens USING btree (room, line) WHERE (status = 'waiting'::text);

--
-- Name: tokens_unlined; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_unlined ON public.tokens USING btree (seq) WHERE ((status = 'waiting'::text) AND (line IS NULL));

--
-- Name: waitlist_order; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX waitlist_order ON public.waitlist USING btree (schedule_id, seq);

--
-- Name: payments payments_logged; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER payments_logged AFTER INSERT ON public.payments FOR EACH ROW EXECUTE FUNCTION public.usher_log_paid();

--
-- Name: reservations reservations_room_paid; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER reservations_room_paid AFTER UPDATE OF status ON public.reservations FOR EACH ROW WHEN (((new.status = 'paid'::text) AND (old.status IS DISTINCT FROM 'paid'::text))) EXECUTE FUNCTION public.usher_log_room_paid();

--
-- Name: reservations reservations_seats_added; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER reservations_seats_added AFTER INSERT ON public.reservations FOR EACH ROW EXECUTE FUNCTION public.usher_seats_added();

--
-- Name: reservations reservations_seats_follow; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER reservations_seats_follow AFTER UPDATE OF status, expires_at ON public.reservations FOR EACH ROW WHEN (((old.status IS DISTINCT FROM new.status) OR (old.expires_at IS DISTINCT FROM new.expires_at))) EXECUTE FUNCTION public.usher_seats_follow();

--
-- Name: priority_tokens priority_tokens_token_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.priority_tokens
    ADD CONSTRAINT priority_tokens_token_fkey FOREIGN KEY (token) REFERENCES public.tokens(token) ON DELETE CASCADE;

--
-- Name: reservation_seats reservation_seats_reservation_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reservation_seats
    ADD CONSTRAINT reservation_seats_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES public.reservations(id) ON DELETE CASCADE;

--
-- Name: reservations reservations_schedule_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reservations
    ADD CONSTRAINT reservations_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES public.schedules(id);

--
-- Name: schedules schedules_concert_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schedules
    ADD CONSTRAINT schedules_concert_id_fkey FOREIGN KEY (concert_id) REFERENCES public.concerts(id);

--
-- Name: tickets tickets_reservation_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tickets
    ADD CONSTRAINT tickets_reservation_id_fkey FOREIGN KEY (reservation_id) REFERENCES public.reservations(id);

--
-- Name: tickets tickets_transferred_from_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tickets
    ADD CONSTRAINT tickets_transferred_from_fkey FOREIGN KEY (transferred_from) REFERENCES public.tickets(id);

--
-- Name: waitlist waitlist_schedule_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.waitlist
    ADD CONSTRAINT waitlist_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES public.schedules(id);

--
-- PostgreSQL database dump complete
--
