/**
 * Issue 21's additions to the tables:
 *
 * - `tokens.reason`: a waiting token ended by sold-out is kept (status
 *   `expired`, until `expires_at`, as a paid token is) with `reason =
 *   'sold_out'`, so a poll answers why instead of `TOKEN_INVALID`; the
 *   sweep forgets it with the other kept tokens.
 * - `spent_challenges`: proof-of-work solutions used once, each until its
 *   challenge expires: a solution is good once across every gateway and
 *   every restart.
 */
export const tables = /* sql */ `
-- Expired for a reason a poll answers with ('sold_out'); only an expired (kept) token has one.
ALTER TABLE tokens ADD COLUMN reason text CHECK (reason IN ('sold_out'));
ALTER TABLE tokens ADD CONSTRAINT tokens_reason_expired CHECK (reason IS NULL OR status = 'expired');

-- Spent proof-of-work solutions, by their challenge's signature, each kept until its challenge expires
-- (expires_at, epoch ms). The primary key spends a solution once, whichever gateway sees it first.
CREATE TABLE spent_challenges (
  id text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX spent_challenges_expiry ON spent_challenges (expires_at);
`;
