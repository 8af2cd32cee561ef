/**
 * The keeper's writes for every room (issue 25): as the baseline's, each
 * touches exactly the rows decided or raises `UR500`
 * (`usher_expect_rows`). Lines are numbered per room, so a line names a
 * token only with its room.
 */
export const keeper = /* sql */ `
-- The tokens of p_room waiting at p_lines are admitted until p_expires_at (decideTick: tokensAdmitted), and
-- counted in the room. The lines were picked by the caller in a statement of its own (rows locked).
CREATE FUNCTION usher_admit_in_room(p_room text, p_lines bigint[], p_expires_at bigint, p_decided integer)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint;
BEGIN
  PERFORM usher_expect_rows('lines picked for admission', cardinality(p_lines), p_decided);
  UPDATE tokens SET status = 'active', expires_at = p_expires_at
   WHERE room = p_room AND line = ANY (p_lines) AND status = 'waiting';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM usher_expect_rows('tokens admitted', v_count, p_decided);
  PERFORM usher_count_admitted_in(p_room, v_count);
END $fn$;

-- Sold out in p_room (decideTick: tokensSoldOut): every waiting token of the room ends, all p_waiting of
-- them, kept until p_keep_until saying why; answers their lines. Other rooms' lines are untouched.
CREATE FUNCTION usher_sell_out_room(p_room text, p_waiting bigint, p_keep_until bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $fn$
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
END $fn$;
`;
