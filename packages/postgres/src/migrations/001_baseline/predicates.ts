import { LOCKS, SQLSTATE } from '../../names.js';

/**
 * The rules' predicates, each stated once, as a SQL function every statement
 * uses (the rules' own statement of each is in `@usher/engine/rules`; a test
 * checks that the two agree). They are `LANGUAGE sql IMMUTABLE` one-liners:
 * PostgreSQL inlines them, so a query written with them uses the partial
 * indexes as if the condition were written out (`WHERE
 * usher_token_active(t, $1)` is an index scan of `tokens_active_deadline`).
 *
 * Then the locks (keys from `names.ts`), the two errors the schema raises,
 * and the counters that more than one statement moves.
 */
export const predicates = /* sql */ `
-- A deadline has passed at p_now: it ends at its own instant (statusAt, reservationStatusAt).
CREATE FUNCTION usher_past(p_deadline bigint, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT p_deadline <= p_now $fn$;

-- A waiting token last polled at p_last_seen is abandoned at p_now (isAbandoned).
CREATE FUNCTION usher_abandoned(p_last_seen bigint, p_now bigint, p_waiting_ttl bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT p_last_seen <= p_now - p_waiting_ttl $fn$;

-- The token is active at p_now: admitted, and its active period not over.
CREATE FUNCTION usher_token_active(t tokens, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT t.status = 'active' AND NOT usher_past(t.expires_at, p_now) $fn$;

-- The token was active and its period is over at p_now: expired, though no step has removed it yet.
CREATE FUNCTION usher_token_overdue(t tokens, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT t.status = 'active' AND usher_past(t.expires_at, p_now) $fn$;

-- The token waits and was polled within the waiting TTL.
CREATE FUNCTION usher_waiter_present(t tokens, p_now bigint, p_waiting_ttl bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $fn$ SELECT t.status = 'waiting' AND NOT usher_abandoned(t.last_seen_at, p_now, p_waiting_ttl) $fn$;

-- The token waits and was not polled within the waiting TTL: abandoned, though no step has removed it yet.
CREATE FUNCTION usher_waiter_abandoned(t tokens, p_now bigint, p_waiting_ttl bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $fn$ SELECT t.status = 'waiting' AND usher_abandoned(t.last_seen_at, p_now, p_waiting_ttl) $fn$;

-- The token waits and arrived after the last keeper step: it has no line number yet (tokens_unlined).
CREATE FUNCTION usher_arrival(t tokens) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT t.status = 'waiting' AND t.line IS NULL $fn$;

-- The hold is live at p_now: held, its deadline not passed.
CREATE FUNCTION usher_hold_live(r reservations, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT r.status = 'held' AND NOT usher_past(r.expires_at, p_now) $fn$;

-- The hold's deadline passed at p_now: expired (at its deadline), though nothing has ended it yet.
CREATE FUNCTION usher_hold_overdue(r reservations, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT r.status = 'held' AND usher_past(r.expires_at, p_now) $fn$;

-- The reservation occupies its seat: held (until something ends it, even past its deadline) or paid. At
-- most one per seat (the unique index reservations_live_seat, whose predicate this is).
CREATE FUNCTION usher_reservation_live(r reservations) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT r.status IN ('held', 'paid') $fn$;

-- The seat of r is not for sale at p_now: paid, or held by a live hold.
CREATE FUNCTION usher_seat_taken(r reservations, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $fn$ SELECT usher_reservation_live(r) AND NOT usher_hold_overdue(r, p_now) $fn$;

-- Helpers that query are PL/pgSQL: their plans are kept for the session (a SQL function that cannot be
-- inlined is planned again at each call in a subtransaction: 6 × the cost, in every batch's items).

-- The user's live holds at p_now (maxHoldsPerUser), counted by user: with the deadline in the WHERE, a
-- plan cached while the table was empty scanned every live hold by deadline instead.
CREATE FUNCTION usher_live_holds(p_user text, p_now bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT count(*) FILTER (WHERE usher_hold_live(r, p_now)) FROM reservations r
           WHERE r.user_id = p_user AND r.status = 'held');
END $fn$;

-- The user's balance (0 for a user without a wallet).
CREATE FUNCTION usher_balance(p_user text) RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN coalesce((SELECT balance FROM wallets WHERE user_id = p_user), 0);
END $fn$;

-- The room admits (isAdmitting, and not sold out: decideIssue, decideTick): not paused, not waiting for
-- its opening, not sold out.
CREATE FUNCTION usher_room_admits(r room) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT NOT (r.paused OR r.pending_opening OR r.sold_out) $fn$;

-- The number of the last published keeper step (0 before the first).
CREATE FUNCTION usher_last_tick() RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN coalesce((SELECT max(no) FROM queue_ticks), 0);
END $fn$;

-- How many waiting tokens without a line, numbered up to p_seq, were abandoned (not polled within the
-- waiting TTL) and not yet removed by a step. A token without a line arrived after the last step, so
-- none can be abandoned before that step is waitingTtl old: while steps run, this is 0 without
-- looking (the count would read every arrival since the step).
CREATE FUNCTION usher_gone_below(p_seq bigint, p_now bigint, p_waiting_ttl bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  IF NOT usher_abandoned(coalesce((SELECT at FROM queue_ticks ORDER BY no DESC LIMIT 1), 0), p_now, p_waiting_ttl) THEN
    RETURN 0;
  END IF;
  RETURN (SELECT count(*) FROM tokens w
           WHERE usher_arrival(w) AND usher_waiter_abandoned(w, p_now, p_waiting_ttl) AND w.seq <= p_seq);
END $fn$;

-- The locks (keys: names.ts). A user's commands apply one at a time.
CREATE FUNCTION usher_lock_user(p_user text) RETURNS void
  LANGUAGE sql AS $fn$ SELECT pg_advisory_xact_lock(${LOCKS.user}, hashtext(p_user)) $fn$;
-- Keeper steps, room updates and issues at once: one at a time.
CREATE FUNCTION usher_lock_steps() RETURNS void
  LANGUAGE sql AS $fn$ SELECT pg_advisory_xact_lock(${LOCKS.usher}, ${LOCKS.steps}) $fn$;
-- Arrivals draw their numbers together, never while a step runs (see tokens.seq).
CREATE FUNCTION usher_lock_arrivals() RETURNS void
  LANGUAGE sql AS $fn$ SELECT pg_advisory_xact_lock_shared(${LOCKS.usher}, ${LOCKS.steps}) $fn$;
-- The keeper's seat, held by its session.
CREATE FUNCTION usher_try_keeper() RETURNS boolean
  LANGUAGE sql AS $fn$ SELECT pg_try_advisory_lock(${LOCKS.usher}, ${LOCKS.keeper}) $fn$;

-- A condition the decision assumed no longer holds: the command rolls back and the engine decides again.
CREATE FUNCTION usher_conflict(p_message text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '${SQLSTATE.conflict}', MESSAGE = p_message;
END $fn$;

-- A statement carrying out a decision touched p_done rows where p_decided were decided: a fault. The
-- transaction rolls back; nothing of it is applied.
CREATE FUNCTION usher_expect_rows(p_what text, p_done bigint, p_decided bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_done IS DISTINCT FROM p_decided THEN
    RAISE EXCEPTION USING ERRCODE = '${SQLSTATE.notAsDecided}',
      MESSAGE = format('%s: %s rows where %s were decided; nothing is applied', p_what, p_done, p_decided);
  END IF;
END $fn$;

-- Tokens admitted (by a keeper step, or at issue): the room's durable admittedTotal.
CREATE FUNCTION usher_count_admitted(p_count bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_count > 0 THEN UPDATE room SET admitted_total = admitted_total + p_count WHERE id = 1; END IF;
END $fn$;

-- Every payment is a paid seat, for sold-out (see paid_log).
CREATE FUNCTION usher_log_paid() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO paid_log (n) VALUES (1);
  RETURN NULL;
END $fn$;
CREATE TRIGGER payments_logged AFTER INSERT ON payments FOR EACH ROW EXECUTE FUNCTION usher_log_paid();

-- A number never below the active tokens: the bound stored by the last batch of issues at once plus
-- what every keeper step since admitted (tokens become active only in those two ways, both under the
-- step lock; they leave without touching it, so payments never queue on its row). NULL when the
-- stored one is more than 1,000 steps old: then count.
CREATE FUNCTION usher_active_bound() RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT CASE WHEN usher_last_tick() - b.tick > 1000 THEN NULL
                      ELSE b.bound + (SELECT coalesce(sum(admitted), 0) FROM queue_ticks WHERE no > b.tick) END
            FROM active_bound b WHERE b.id = 1);
END $fn$;
`;
