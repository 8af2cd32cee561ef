/**
 * Issue 25's additions to the tables:
 *
 * - `presale_codes`: one-use codes an operator created for a room, kept as
 *   their SHA-256 only, keyed by the hash and carrying their room (a room's
 *   data names its room, so a room could move to another database); spent
 *   once, whichever gateway sees it first (`spent_at` set by a conditional
 *   update).
 * - `priority_tokens`: a token that joined waiting with a code stands at the
 *   head of the line: the keeper admits those first, in join order. A table
 *   of its own rather than a column of `tokens`, whose row type stays as it
 *   was (a predicate's callers build it).
 */
export const tables = /* sql */ `
CREATE TABLE presale_codes (
  hash text PRIMARY KEY,
  room text NOT NULL,
  created_at bigint NOT NULL,
  spent_at bigint
);

-- The head of the line: tokens that joined waiting with a code, in join order (their seq). A row goes
-- with its token (abandoned, expired, forgotten) and when the keeper admits it.
CREATE TABLE priority_tokens (
  token text PRIMARY KEY REFERENCES tokens (token) ON DELETE CASCADE,
  seq bigint NOT NULL
);
CREATE INDEX priority_tokens_seq ON priority_tokens (seq);
`;
