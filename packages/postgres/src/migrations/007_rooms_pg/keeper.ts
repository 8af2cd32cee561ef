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

-- Admission of the head of several rooms' lines at once (rooms without a draw or code holders to
-- admit first): for each room p_rooms[i], its first p_counts[i] waiting lines after p_afters[i] are
-- picked in a MATERIALIZED CTE of their own (rows locked; a LIMIT is never re-evaluated under an
-- UPDATE), then admitted by key with usher_admit_in_room, which checks that exactly p_counts[i] rows
-- moved. One call per tick for every such room; answers each room's admitted lines.
CREATE FUNCTION usher_admit_heads(p_rooms text[], p_afters bigint[], p_counts integer[], p_expires_at bigint)
RETURNS TABLE (room text, lines bigint[]) LANGUAGE plpgsql AS $fn$
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
END $fn$;
`;
