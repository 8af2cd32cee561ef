/**
 * `usher_apply_many(changes[], now[], assume[])`: many commands' decisions in
 * one statement and one commit (group commit by the application: one round
 * trip, one commit record and one WAL flush for the lot instead of one each).
 *
 * Each decision runs `usher_apply` in a subtransaction of its own (a
 * `BEGIN … EXCEPTION` block): one whose condition no longer holds (`UR409`),
 * or that fails in any other way, is rolled back alone, with nothing of it
 * applied, and its error is returned in its place; the others are applied and
 * committed together. Answers, in order: `{"r": result}` or `{"e": sqlstate,
 * "m": message}`. The engine sends at most 64 decisions at a time, so that a
 * batch never has more subtransactions than a backend caches (more would make
 * every other session's snapshots slower while it runs).
 */
export const applyMany = /* sql */ `
CREATE FUNCTION usher_apply_many(p_changes jsonb[], p_now bigint[], p_assume jsonb[]) RETURNS jsonb[]
LANGUAGE plpgsql AS $fn$
DECLARE
  v_out jsonb[] := '{}';
  v_state text;
  v_message text;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_changes, 1), 0) LOOP
    BEGIN
      v_out := array_append(v_out, jsonb_build_object('r', usher_apply(p_changes[i], p_now[i], p_assume[i])));
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
      v_out := array_append(v_out, jsonb_build_object('e', v_state, 'm', v_message));
    END;
  END LOOP;
  RETURN v_out;
END $fn$;
`;
