/**
 * Issue 21's predicate, stated once as migration 1's are (an inlinable
 * one-liner over the row; its TypeScript statement is
 * `isSpentForgettable` in `@usher/engine/rules`).
 */
export const predicates = /* sql */ `
-- The spent solution's challenge has expired at p_now: the solution is forgotten (isSpentForgettable).
CREATE FUNCTION usher_spent_forgettable(s spent_challenges, p_now bigint) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT usher_past(s.expires_at, p_now) $fn$;
`;
