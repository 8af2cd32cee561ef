/**
 * Migration 5, signing keys (SPEC §11 ticket codes, §12 passes): the Ed25519
 * keys usher generates when the operator gives none, kept here so that every
 * gateway and every restart signs with the same key. One current key per use
 * (`retired_at IS NULL`, a unique index): of gateways that start at once and
 * each offer a new key, one insert wins and every gateway reads it (see
 * `postgresKeyVault`). A retired key signs no more; its public half stays in
 * the JWKS until its row is deleted.
 */
export const keys = /* sql */ `
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  use text NOT NULL CHECK (use IN ('pass', 'ticket')),
  -- PKCS#8 PEM, Ed25519. Whoever can read this table can sign passes and tickets.
  private_key text NOT NULL,
  created_at timestamptz NOT NULL,
  retired_at timestamptz
);
CREATE UNIQUE INDEX signing_keys_current ON signing_keys (use) WHERE retired_at IS NULL;
`;
