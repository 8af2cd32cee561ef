import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
} from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';

/**
 * What a key signs. Each use has keys of its own and its own `kid`s, all in
 * one JWKS: a pass is never taken for a ticket code, nor the other way round.
 */
export type KeyUse = 'pass' | 'ticket';
export const keyUses: readonly KeyUse[] = ['pass', 'ticket'];

/**
 * A signing key as a {@link KeyVault} keeps it: an Ed25519 private key
 * (PKCS#8 PEM) and what it signs. A retired key signs no more; its public
 * half stays in the JWKS, so what it signed still verifies, until it is
 * deleted from the vault.
 */
export interface StoredKey {
  readonly use: KeyUse;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), Ed25519. */
  readonly privateKey: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601; set when a newer key took over. */
  readonly retiredAt?: string | undefined;
}

/**
 * Where generated keys are kept durably, so that every restart (and, with
 * PostgreSQL, every gateway) signs with the same key. `loadOrCreate` answers
 * every key kept, after adding those of `fresh` whose use has no current key
 * yet; of several processes that call it at once, one key per use wins, and
 * all of them answer it.
 */
export interface KeyVault {
  loadOrCreate(fresh: readonly StoredKey[]): Promise<readonly StoredKey[]>;
}

/** A public key of the JWKS (RFC 7517, RFC 8037). */
export interface PublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
}

/** `GET /.well-known/jwks.json`. */
export interface Jwks {
  readonly keys: readonly PublicJwk[];
}

export interface SigningKeysOptions {
  /**
   * Keys given by the operator (PKCS#8 PEM, Ed25519), e.g. from
   * `PASS_SIGNING_KEY` and `TICKET_SIGNING_KEY`: they sign, and the vault is
   * not asked for their use.
   */
  readonly keys?: Partial<Record<KeyUse, string | undefined>>;
  /**
   * Keys that no longer sign but whose signatures must still verify (after a
   * rotation): PEM, private (PKCS#8) or public (SPKI), by use. Published in the JWKS.
   */
  readonly previous?: Partial<Record<KeyUse, readonly string[] | undefined>>;
  /** Where keys of the uses not given in `keys` are generated once and kept. Default: memory (a new key each start). */
  readonly vault?: KeyVault;
  /** Which uses to have a signing key for. Default: every use. */
  readonly uses?: readonly KeyUse[];
}

interface SigningKey {
  readonly kid: string;
  readonly key: KeyObject;
}

/** A new Ed25519 key for `use`, to be kept by a vault. */
export function generateStoredKey(use: KeyUse, now: Date = new Date()): StoredKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    use,
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    createdAt: now.toISOString(),
  };
}

/** A vault of one process's memory: keys live as long as it does. For tests and the in-memory engine. */
export function memoryKeyVault(): KeyVault {
  let kept: StoredKey[] = [];
  return {
    loadOrCreate: async (fresh) => {
      for (const key of fresh)
        if (!kept.some((k) => k.use === key.use && k.retiredAt === undefined))
          kept = [...kept, key];
      return kept;
    },
  };
}

/**
 * Ed25519 key from PEM; anything else is a `TypeError` naming what it got
 * (without echoing the key).
 */
function ed25519(pem: string, what: string, kind: 'private' | 'any'): KeyObject {
  let key: KeyObject;
  try {
    key =
      kind === 'private' || pem.includes('PRIVATE KEY')
        ? createPrivateKey({ key: pem, format: 'pem' })
        : createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new TypeError(
      `${what} is not a PEM key (${kind === 'private' ? 'PKCS#8, BEGIN PRIVATE KEY' : 'PKCS#8 or SPKI'}); make one with: openssl genpkey -algorithm ed25519`,
      { cause: error },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new TypeError(
      `${what} is a ${key.asymmetricKeyType ?? 'symmetric'} key, not Ed25519; make one with: openssl genpkey -algorithm ed25519`,
    );
  return key;
}

/** The `kid` of a kept key (its use and its public key's thumbprint), as the JWKS names it. */
export function kidOf(key: StoredKey): string {
  return publicJwk(ed25519(key.privateKey, `a ${key.use} key`, 'private'), key.use).kid;
}

/** The key's `kid`: its use and its RFC 7638 thumbprint (so a kid names one key of one use, everywhere). */
function publicJwk(key: KeyObject, use: KeyUse): PublicJwk {
  const { x } = createPublicKey(key).export({ format: 'jwk' }) as { x: string };
  const thumbprint = createHash('sha256')
    .update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x }))
    .digest('base64url');
  return {
    kty: 'OKP',
    crv: 'Ed25519',
    x,
    kid: `${use}-${thumbprint.slice(0, 16)}`,
    alg: 'EdDSA',
    use: 'sig',
  };
}

/**
 * usher's key set: one Ed25519 signing key per use (passes, ticket codes),
 * each with its own `kid`, and one JWKS that publishes them all, with the
 * previous keys of a rotation. Open it with {@link SigningKeys.open}.
 *
 * @example
 * ```ts
 * const keys = await SigningKeys.open({ vault: fileKeyVault('./data') });
 * const code = await keys.sign('ticket', { tid: 't1', sch: 's1', seat: 7, sub: 'ann' });
 * const claims = await keys.verify('ticket', code);
 * ```
 */
export class SigningKeys {
  readonly #signing: ReadonlyMap<KeyUse, SigningKey>;
  readonly #jwks: Jwks;
  readonly #verifier: ReturnType<typeof createLocalJWKSet>;

  private constructor(signing: ReadonlyMap<KeyUse, SigningKey>, published: readonly PublicJwk[]) {
    this.#signing = signing;
    const byKid = new Map<string, PublicJwk>();
    for (const jwk of published) byKid.set(jwk.kid, jwk);
    this.#jwks = Object.freeze({ keys: Object.freeze([...byKid.values()]) });
    this.#verifier = createLocalJWKSet(structuredClone(this.#jwks) as { keys: PublicJwk[] });
  }

  /**
   * The key set: the operator's keys (`keys`), else the vault's current key
   * of each use, generated and kept there the first time; and every retired
   * or `previous` key, for verifying only.
   */
  static async open(options: SigningKeysOptions = {}): Promise<SigningKeys> {
    const uses = options.uses ?? keyUses;
    const signing = new Map<KeyUse, SigningKey>();
    const published: PublicJwk[] = [];
    for (const use of uses) {
      const pem = options.keys?.[use];
      if (pem === undefined || pem === '') continue;
      const key = ed25519(pem, `the ${use} signing key`, 'private');
      const jwk = publicJwk(key, use);
      signing.set(use, { kid: jwk.kid, key });
      published.push(jwk);
    }
    const missing = uses.filter((use) => !signing.has(use));
    if (missing.length > 0) {
      const now = new Date();
      const kept = await (options.vault ?? memoryKeyVault()).loadOrCreate(
        missing.map((use) => generateStoredKey(use, now)),
      );
      // Newest first, so that the current key of each use leads the JWKS.
      const newestFirst = [...kept].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      for (const stored of newestFirst) {
        const key = ed25519(stored.privateKey, `a kept ${stored.use} signing key`, 'private');
        const jwk = publicJwk(key, stored.use);
        if (
          stored.retiredAt === undefined &&
          missing.includes(stored.use) &&
          !signing.has(stored.use)
        )
          signing.set(stored.use, { kid: jwk.kid, key });
        published.push(jwk);
      }
      for (const use of missing)
        if (!signing.has(use)) throw new Error(`the key vault kept no current ${use} key`);
    }
    for (const use of keyUses)
      for (const [i, pem] of (options.previous?.[use] ?? []).entries())
        published.push(publicJwk(ed25519(pem, `previous ${use} key #${i + 1}`, 'any'), use));
    return new SigningKeys(signing, published);
  }

  /** The public keys, for `GET /.well-known/jwks.json` (frozen). */
  jwks(): Jwks {
    return this.#jwks;
  }

  /** The `kid` that `use` signs with now. */
  kid(use: KeyUse): string {
    return this.#key(use).kid;
  }

  /**
   * A compact JWS (JWT, `alg: EdDSA`, the use's `kid`) over `claims`. Claims
   * are signed as given: `iat`/`exp` are the caller's (seconds).
   */
  sign(use: KeyUse, claims: JWTPayload): Promise<string> {
    const { kid, key } = this.#key(use);
    return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' }).sign(key);
  }

  /**
   * The claims of `jws` if one of this set's keys of `use` (current,
   * retired or previous) signed it and it has not expired; else it throws
   * (a jose error, or a `TypeError` for a key of another use).
   */
  async verify(use: KeyUse, jws: string): Promise<JWTPayload> {
    const { payload, protectedHeader } = await jwtVerify(jws, this.#verifier, {
      algorithms: ['EdDSA'],
    });
    if (!protectedHeader.kid?.startsWith(`${use}-`))
      throw new TypeError(`signed by a key that does not sign ${use}s`);
    return payload;
  }

  #key(use: KeyUse): SigningKey {
    const key = this.#signing.get(use);
    if (key === undefined) throw new Error(`this key set has no ${use} key`);
    return key;
  }
}
