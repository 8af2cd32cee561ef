/**
 * Issue 25's additions to the tables:
 *
 * - `presale_codes`: one-use codes an operator created for a room, kept as
 *   their SHA-256 only, keyed by the hash and carrying their room (a room's
 *   data names its room, so a room could move to another database); spent
 *   once, whichever gateway sees it first (`spent_at` set by a conditional
 *   update).
 * - `tokens.priority`: a token that joined with a code stands at the head
 *   of the line: the keeper admits such tokens first, in join order.
 */
export const tables = /* sql */ `
CREATE TABLE presale_codes (
  hash text PRIMARY KEY,
  room text NOT NULL,
  created_at bigint NOT NULL,
  spent_at bigint
);

-- Joined with a presale code (only a waiting or active token is marked so).
ALTER TABLE tokens ADD COLUMN priority boolean NOT NULL DEFAULT false;
-- The head of the line: waiting tokens that joined with a code, in join order.
CREATE INDEX tokens_priority ON tokens (seq) WHERE status = 'waiting' AND priority;
`;
