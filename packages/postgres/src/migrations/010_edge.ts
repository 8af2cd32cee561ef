/**
 * The edge, hardened (issue 21):
 *
 * - `tokens.reason`: a waiting token ended by sold-out is kept (status
 *   `expired`, until `expires_at`, as a paid token is) with `reason =
 *   'sold_out'`, so a poll answers why instead of `TOKEN_INVALID`; the
 *   keeper's sweep forgets it with the other kept tokens.
 * - `spent_challenges`: proof-of-work solutions used once, each until its
 *   challenge expires (`expires_at`, epoch ms): a solution is good once across
 *   every gateway and every restart. `spent_challenges_expiry` lets the purge
 *   of expired ones read only those.
 */
export const edge = /* sql */ `
ALTER TABLE tokens ADD COLUMN reason text CHECK (reason IN ('sold_out'));

CREATE TABLE spent_challenges (
  id text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX spent_challenges_expiry ON spent_challenges (expires_at);
`;
