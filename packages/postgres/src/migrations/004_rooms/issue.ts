/**
 * Issuing with a presale code (`usher_issue_with_code_many(items)`, items of
 * type `usher_code_issue`: `usher_issue`'s fields, the code's hash and room),
 * each in a subtransaction of its own: the code is spent by a conditional
 * update (unspent, of this room; otherwise a conflict, and the command reads
 * and decides again: the rule then answers `CODE_INVALID`), the token is
 * issued by `usher_issue_many` as any other (its refusal undoes the spend),
 * and, if it waits, put at the head of the line (`priority_tokens`). A code is thus spent exactly when its token stands.
 */
export const issue = /* sql */ `
CREATE TYPE usher_code_issue AS (
  now bigint, token text, user_id text, status text, issued_at bigint, expires_at bigint,
  waiting_ttl bigint, max_active integer, code_hash text, code_room text
);

CREATE FUNCTION usher_issue_with_code_many(p_items json) RETURNS SETOF usher_outcome LANGUAGE plpgsql AS $fn$
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
END $fn$;
`;
