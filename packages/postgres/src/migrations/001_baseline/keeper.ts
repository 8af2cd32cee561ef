/**
 * The keeper's writes. A step (under the step lock) reads what is due with
 * its rows locked, lets the shared rules decide, and carries each decision
 * out by key through one of these: each touches exactly the rows decided or
 * raises `UR500` (`usher_expect_rows`), and the step rolls back. No write's
 * effect depends on the plan PostgreSQL picks (a `LIMIT` in an `UPDATE`'s
 * `WHERE` could be rescanned per row by a nested loop and admit the whole
 * line: issue 20).
 */
export const keeper = /* sql */ `
-- Holds past their deadline expire, each at its own (decideExpireHold).
CREATE FUNCTION usher_expire_holds(p_ids text[], p_ats bigint[], p_now bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  UPDATE reservations r SET status = 'expired', ended_at = x.at
    FROM unnest(p_ids, p_ats) AS x (id, at)
   WHERE r.id = x.id AND usher_hold_overdue(r, p_now);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('holds expired', v_count, cardinality(p_ids));
END $fn$;

-- Active tokens past their deadline are forgotten (statusAt: expired).
CREATE FUNCTION usher_expire_tokens(p_tokens text[], p_now bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  DELETE FROM tokens t WHERE t.token = ANY (p_tokens) AND usher_token_overdue(t, p_now);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('active tokens expired', v_count, cardinality(p_tokens));
END $fn$;

-- Waiting tokens not polled within the waiting TTL are forgotten (isAbandoned); answers the lines they left.
CREATE FUNCTION usher_abandon(p_tokens text[], p_now bigint, p_waiting_ttl bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $fn$
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
END $fn$;

-- Arrivals get the next line numbers, p_after + 1, p_after + 2, …, in the order given (their seq order).
CREATE FUNCTION usher_line_up(p_tokens text[], p_after bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  UPDATE tokens t SET line = p_after + x.n
    FROM unnest(p_tokens) WITH ORDINALITY AS x (token, n)
   WHERE t.token = x.token AND usher_arrival(t);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('arrivals lined up', v_count, cardinality(p_tokens));
END $fn$;

-- The tokens waiting at p_lines are admitted until p_expires_at (decideTick: tokensAdmitted), and counted.
CREATE FUNCTION usher_admit(p_lines bigint[], p_expires_at bigint, p_decided integer) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  PERFORM usher_expect_rows('lines picked for admission', cardinality(p_lines), p_decided);
  UPDATE tokens SET status = 'active', expires_at = p_expires_at WHERE line = ANY (p_lines) AND status = 'waiting';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('tokens admitted', v_count, p_decided);
  PERFORM usher_count_admitted(v_count);
END $fn$;

-- Sold out (decideTick: tokensSoldOut): every waiting token ends, all p_waiting of them; answers their lines.
CREATE FUNCTION usher_sell_out(p_waiting bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $fn$
DECLARE
  v_lines bigint[];
BEGIN
  -- Every waiting token has a line by now (arrivals draw numbers only outside steps).
  WITH gone AS (DELETE FROM tokens WHERE status = 'waiting' RETURNING line)
  SELECT coalesce(array_agg(line), '{}') INTO v_lines FROM gone;
  PERFORM usher_expect_rows('waiting tokens sold out', cardinality(v_lines), p_waiting);
  RETURN v_lines;
END $fn$;
`;
