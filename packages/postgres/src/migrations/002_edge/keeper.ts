/**
 * Issue 21's keeper write: sold-out keeps the tokens it ends, with their
 * reason, instead of deleting them. A new overload beside migration 1's
 * `usher_sell_out(bigint)` (a migration only adds), which this version no
 * longer calls; as the others, it touches exactly the rows decided or raises
 * `UR500`.
 */
export const keeper = /* sql */ `
-- Sold out (decideTick: tokensSoldOut): every waiting token ends, all p_waiting of them, and is kept until
-- p_keep_until (keptUntil) saying why; answers their lines.
CREATE FUNCTION usher_sell_out(p_waiting bigint, p_keep_until bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $fn$
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
END $fn$;
`;
