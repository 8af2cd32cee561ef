/**
 * `@usher/engine/signing`: usher's signing keys (Ed25519, `jose`), shared by
 * both engines and the HTTP layer: one key set with a key and a `kid` per use
 * (passes, ticket codes: made and verified here only, for both engines), one JWKS, and where generated keys are kept (a file
 * in `DATA_DIR` here; PostgreSQL's table in `@usher/postgres`). No HTTP.
 */
export {
  SigningKeys,
  generateStoredKey,
  keyUses,
  kidOf,
  memoryKeyVault,
  type Jwks,
  type KeyUse,
  type KeyVault,
  type PublicJwk,
  type SigningKeysOptions,
  type StoredKey,
} from './keys.js';
export { fileKeyVault, KEY_FILE } from './fileVault.js';
export { DEFAULT_ROOM, passClaims, roomOf, withPass, type PassClaims } from './pass.js';
export {
  MAX_TICKET_CODE_LENGTH,
  ticketClaims,
  ticketCode,
  verifyTicketCode,
  withCode,
} from './ticket.js';
