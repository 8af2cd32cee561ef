import { createPrivateKey, createPublicKey } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { configBounds, type EngineConfig } from '@usher/engine';
import * as z from 'zod';
import { defaultMaxConnections, type HttpLimits } from './connectionLimits.js';
import { secretWeakness } from './secrets.js';

/**
 * A whole number in `[min, max]`, written as digits only: an empty value, a
 * sign, `1.5`, `1e3`, `0x10` or spaces are refused (naming the variable),
 * never read as 0 or as something else. Unset stays unset.
 */
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'must be a whole number, digits only' })
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .optional();
/** A secret's own shape (`schema`), then, if that holds, the one strength check of every secret ({@link secretWeakness}). */
const secret = (schema: z.ZodString) =>
  schema
    .superRefine((value, ctx) => {
      const weakness = secretWeakness(value);
      if (weakness !== undefined) ctx.addIssue({ code: 'custom', message: weakness });
    })
    .optional();
/** A {@link wholeNumber}; unset means `fallback`. */
const integer = (min: number, max: number, fallback: number | (() => number)) =>
  wholeNumber(min, max).transform(
    (value) => value ?? (typeof fallback === 'function' ? fallback() : fallback),
  );
/**
 * An engine option: its bounds come from the engine, and unset it stays unset,
 * so that the engine's own default applies (one source of truth).
 */
const engineOption = (option: keyof EngineConfig) =>
  wholeNumber(configBounds[option].min, configBounds[option].max);

/** Comma-separated origins (`scheme://host[:port]`), each checked; unset or empty: none. */
function origins() {
  return z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ''),
    )
    .superRefine((origins, ctx) => {
      for (const origin of origins) {
        if (!isOrigin(origin))
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(origin)} is not an origin: write scheme://host[:port], no path, no trailing slash`,
          });
      }
    });
}

/**
 * One or more PEM blocks of Ed25519 keys (`private`: PKCS#8 only, one key);
 * `\n` written as two characters (an env file on one line) is read as a new line.
 */
function signingKey(kind: 'private' | 'any') {
  const advice = 'make one with: openssl genpkey -algorithm ed25519';
  return z
    .string()
    .transform((value) => value.replaceAll('\\n', '\n').trim())
    .transform(
      (value) => value.match(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g) ?? [],
    )
    .superRefine((blocks, ctx) => {
      if (blocks.length === 0 || (kind === 'private' && blocks.length > 1)) {
        ctx.addIssue({
          code: 'custom',
          message: `must be ${kind === 'private' ? 'one PEM private key (BEGIN PRIVATE KEY)' : 'PEM keys'}: ${advice}`,
        });
        return;
      }
      for (const block of blocks) {
        let type: string | undefined;
        try {
          const key =
            kind === 'private' || block.includes('PRIVATE KEY')
              ? createPrivateKey(block)
              : createPublicKey(block);
          type = key.asymmetricKeyType;
        } catch {
          ctx.addIssue({ code: 'custom', message: `is not a readable PEM key: ${advice}` });
          continue;
        }
        if (type !== 'ed25519')
          ctx.addIssue({ code: 'custom', message: `is a ${type} key, not Ed25519: ${advice}` });
      }
    })
    .optional();
}

/** The engine's options the environment may set, by variable; unset, the engine's default applies. */
const engineVariables = {
  HOLD_TTL_MS: 'holdTtlMs',
  HOLD_SWEEP_MS: 'holdSweepMs',
  QUEUE_TICK_MS: 'queueTickMs',
  QUEUE_ADMIT_PER_TICK: 'queueAdmitPerTick',
  QUEUE_MAX_ACTIVE: 'queueMaxActive',
  TOKEN_ACTIVE_TTL_MS: 'tokenActiveTtlMs',
  QUEUE_WAITING_TTL_MS: 'queueWaitingTtlMs',
  MAX_HOLDS_PER_USER: 'maxHoldsPerUser',
  MAX_SEATS_PER_ORDER: 'maxSeatsPerOrder',
  MAX_TICKETS_PER_USER: 'maxTicketsPerUser',
  HOLD_EXTENSION_MS: 'holdExtensionMs',
  HOLD_EXTENSIONS: 'holdExtensions',
  REFUND_CUTOFF_MS: 'refundCutoffMs',
} as const satisfies Record<string, keyof EngineConfig>;

/** The environment the server reads (SPEC §7), with defaults. */
const Env = z.object({
  PORT: integer(0, 65_535, 3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  /** Distributed mode (SPEC §8): PostgreSQL is the system of record instead of DATA_DIR. */
  DATABASE_URL: z
    .string()
    .refine((url) => URL.canParse(url) && /^postgres(ql)?:$/.test(new URL(url).protocol), {
      message: 'must be a postgres:// (or postgresql://) URL',
    })
    .optional(),
  /** Connections each process's pool opens at most (PostgreSQL mode); default 24 shared out among WORKERS. */
  DATABASE_POOL_SIZE: wholeNumber(6, 1_000),
  /** Gateway processes sharing the port (node:cluster); more than 1 needs DATABASE_URL. */
  WORKERS: integer(1, 256, 1),
  CATALOG: z.string().min(1).optional(),
  HOLD_TTL_MS: engineOption('holdTtlMs'),
  HOLD_SWEEP_MS: engineOption('holdSweepMs'),
  QUEUE_TICK_MS: engineOption('queueTickMs'),
  QUEUE_ADMIT_PER_TICK: engineOption('queueAdmitPerTick'),
  QUEUE_MAX_ACTIVE: engineOption('queueMaxActive'),
  TOKEN_ACTIVE_TTL_MS: engineOption('tokenActiveTtlMs'),
  QUEUE_WAITING_TTL_MS: engineOption('queueWaitingTtlMs'),
  MAX_HOLDS_PER_USER: engineOption('maxHoldsPerUser'),
  /** Seats one reservation may hold (SPEC §10). */
  MAX_SEATS_PER_ORDER: engineOption('maxSeatsPerOrder'),
  /** A user's held plus paid seats of one date at most. */
  MAX_TICKETS_PER_USER: engineOption('maxTicketsPerUser'),
  /** How much later one extension moves a hold's end. */
  HOLD_EXTENSION_MS: engineOption('holdExtensionMs'),
  /** How many times one hold may be extended (0: never). */
  HOLD_EXTENSIONS: engineOption('holdExtensions'),
  /** A ticket's holder may refund it until this long before the show (SPEC §11). */
  REFUND_CUTOFF_MS: engineOption('refundCutoffMs'),
  /** `false` trades power-loss safety for speed (acknowledged writes still survive a process crash). */
  FSYNC: z.enum(['true', 'false']).default('true'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How long a graceful shutdown waits for in-flight requests before closing connections. */
  SHUTDOWN_GRACE_MS: integer(1, 3_600_000, 10_000),
  /** Time for a request's headers; a connection that sends nothing is closed after it too. */
  HTTP_HEADERS_TIMEOUT_MS: integer(100, 600_000, 10_000),
  /** Time for a whole request, body included (not the answer: event streams are not cut). */
  HTTP_REQUEST_TIMEOUT_MS: integer(100, 3_600_000, 30_000),
  /** Open connections in all; default from the open-file limit. */
  MAX_CONNECTIONS: integer(1, 1_000_000, defaultMaxConnections),
  /** Open connections per client address; `0`: no cap. */
  MAX_CONNECTIONS_PER_ADDRESS: integer(0, 1_000_000, 64),
  MAX_STREAMS_PER_TOKEN: integer(1, 100, 3),
  STREAM_MAX_LIFETIME_MS: integer(1_000, 86_400_000, 900_000),
  /** Front ends on other origins that may call the API (CORS), comma-separated; unset or empty: CORS off. */
  CORS_ORIGINS: origins(),
  /** Signed-in mode: the HS256 secret that signs the users' JWTs (at least 32 bytes). Unset with AUTH_JWKS_URL unset: demo mode, claimed identity. */
  AUTH_JWT_SECRET: secret(
    z.string().refine((value) => Buffer.byteLength(value) >= 32, {
      message: 'must be at least 32 bytes (an HS256 key)',
      abort: true,
    }),
  ),
  /** Signed-in mode: where the identity provider publishes its public keys (JWKS). */
  AUTH_JWKS_URL: z
    .string()
    .refine((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), {
      message: 'must be an http(s) URL',
    })
    .optional(),
  /** The JWT claim that holds the user id. */
  AUTH_USER_CLAIM: z.string().min(1).optional(),
  /** The `iss` a JWT must carry: required with AUTH_JWKS_URL. */
  AUTH_ISSUER: z.string().min(1).optional(),
  /** The `aud` a JWT must carry: required with AUTH_JWKS_URL (unless AUTH_ANY_AUDIENCE=true). */
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** With AUTH_JWKS_URL and no AUTH_AUDIENCE: accept JWTs the provider signed for any app (a warning at every start). */
  AUTH_ANY_AUDIENCE: z.enum(['true', 'false']).default('false'),
  /** Demo mode (no sign-in) on a HOST other than loopback is refused unless this is `true`. */
  ALLOW_PUBLIC_DEMO: z.enum(['true', 'false']).default('false'),
  /** The operator's token: turns on `/admin/room` and `/metrics` (otherwise 404). */
  ADMIN_TOKEN: secret(
    z.string().regex(/^[\x21-\x7e]{16,}$/, {
      message:
        'must be at least 16 visible ASCII characters, no spaces (e.g. openssl rand -hex 32)',
      abort: true,
    }),
  ),
  /** The door scanners' token: turns on `POST /checkin` (otherwise 404), SPEC §11. */
  SCANNER_TOKEN: secret(
    z.string().regex(/^[\x21-\x7e]{16,}$/, {
      message:
        'must be at least 16 visible ASCII characters, no spaces (e.g. openssl rand -hex 32)',
      abort: true,
    }),
  ),
  /** `POST /queue/tokens` per client address and minute; `0`: no limit. */
  TOKEN_RATE_PER_MINUTE: integer(0, 1_000_000, 60),
  /** …and at most this many of them in one second (default 10, never more than the minute's). */
  TOKEN_RATE_BURST: wholeNumber(1, 1_000_000),
  /** Behind a reverse proxy: the client address is the last `X-Forwarded-For` entry. */
  TRUST_PROXY: z.enum(['true', 'false']).default('false'),
  /** `pow`: joining the line needs a solved proof-of-work challenge (ALTCHA). */
  QUEUE_CHALLENGE: z.enum(['off', 'pow']).default('off'),
  /** The HMAC key of the challenges (32+ bytes); unset, a new one each start (one process only). */
  QUEUE_CHALLENGE_SECRET: secret(
    z.string().refine((value) => Buffer.byteLength(value) >= 32, {
      message: 'must be at least 32 bytes',
      abort: true,
    }),
  ),
  /** The challenge's number is in [0, this]: a browser tries half of them on average. */
  QUEUE_CHALLENGE_MAX_NUMBER: wholeNumber(100, 100_000_000),
  /** The Ed25519 key (PKCS#8 PEM) that signs passes (SPEC §12); unset: generated once and kept (DATA_DIR or the database). */
  PASS_SIGNING_KEY: signingKey('private'),
  /** The Ed25519 key (PKCS#8 PEM) that signs ticket codes (SPEC §11); unset: generated once and kept, as the pass key. */
  TICKET_SIGNING_KEY: signingKey('private'),
  /** After a rotation: the previous pass key(s), PEM (private or public), still published in the JWKS. */
  PASS_SIGNING_KEY_PREVIOUS: signingKey('any'),
  /** After a rotation: the previous ticket key(s), PEM (private or public), still published in the JWKS. */
  TICKET_SIGNING_KEY_PREVIOUS: signingKey('any'),
  /** Sites a visitor may be sent back to with their pass (`?return=` of the page), comma-separated origins; unset: none. */
  PASS_RETURN_ORIGINS: origins(),
});

/** The default difficulty: about 25,000 SHA-256 on average: a few hundred milliseconds in a browser's worker (WebCrypto). */
export const DEFAULT_CHALLENGE_MAX_NUMBER = 50_000;

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  /** Demo mode on a HOST other than loopback (only with ALLOW_PUBLIC_DEMO=true): warned at every start. */
  readonly publicDemo: boolean;
  readonly dataDir: string;
  /** PostgreSQL mode: where the database is and how many connections this process opens; `undefined`: the embedded lowdb store in `dataDir`. */
  readonly database: { readonly url: string; readonly poolSize: number } | undefined;
  /** Gateway processes to run (node:cluster when more than 1). */
  readonly workers: number;
  readonly catalog: string | undefined;
  readonly fsync: boolean;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  /** The engine options set in the environment, and only those. */
  readonly engine: Partial<EngineConfig>;
  readonly http: HttpLimits;
  /** Event streams: open ones per token (one more ends the oldest), and how long one lasts. */
  readonly streams: { readonly maxPerToken: number; readonly maxLifetimeMs: number };
  /** Origins allowed to call the API from a browser (CORS); empty: none. */
  readonly corsOrigins: readonly string[];
  /** Who the user is: `undefined` is demo mode (the body's `userId`, claimed); otherwise a verified JWT. */
  readonly identity: IdentityConfig | undefined;
  /** Variables that look like usher's but are not (a typo such as `HOLD_TTL`): to be logged, not fatal. */
  readonly warnings: readonly string[];
  /** The operator's token (`/admin/room`, `/metrics`); `undefined`: those routes are off. */
  readonly adminToken: string | undefined;
  /** The door scanners' token (`POST /checkin`); `undefined`: that route is off. */
  readonly scannerToken: string | undefined;
  /** The limit on joining per client address: `perMinute` 0 is none; at most `burstPerSecond` in one second. */
  readonly tokenRate: { readonly perMinute: number; readonly burstPerSecond: number };
  /** Whether the client address comes from `X-Forwarded-For` (its last entry). */
  readonly trustProxy: boolean;
  /** Proof of work before joining; `undefined`: off. `secret` unset: a key generated at each start. */
  readonly challenge:
    { readonly secret: string | undefined; readonly maxNumber: number } | undefined;
  /**
   * The signing keys of passes and ticket codes given by the operator (PEM), and earlier ones
   * still published; a use without a key gets one generated once and kept (DATA_DIR or the database).
   */
  readonly signing: {
    readonly keys: { readonly pass?: string; readonly ticket?: string };
    readonly previous: { readonly pass: readonly string[]; readonly ticket: readonly string[] };
  };
  /** Origins the page may send an admitted visitor back to with their pass (`?return=`); empty: none. */
  readonly passReturnOrigins: readonly string[];
}

/** Signed-in mode: users prove who they are with a JWT, verified with the secret or the JWKS. */
export type IdentityConfig = {
  readonly userClaim: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** AUTH_ANY_AUDIENCE=true: a provider's JWT for any app is taken (JWKS only; warned at every start). */
  readonly anyAudience?: true;
} & (
  | { readonly secret: string; readonly jwksUrl?: undefined }
  | { readonly jwksUrl: string; readonly secret?: undefined }
);

/** A start-up failure explained in one sentence, naming the setting to change: printed as it is, without a stack. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Reads the environment; throws one readable error listing every bad variable. */
export function readConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new StartupError(`bad environment: ${problems}`);
  }
  const e = parsed.data;
  if (e.WORKERS > 1 && e.DATABASE_URL === undefined) {
    throw new StartupError(
      `bad environment: WORKERS=${e.WORKERS} needs DATABASE_URL: the embedded store (DATA_DIR) has one owner process; set DATABASE_URL=postgres://… to run several gateways, or unset WORKERS`,
    );
  }
  if (e.DATABASE_POOL_SIZE !== undefined && e.DATABASE_URL === undefined) {
    throw new StartupError(
      'bad environment: DATABASE_POOL_SIZE is set but DATABASE_URL is not: it sizes the PostgreSQL pool',
    );
  }
  const identity = identityConfig(e);
  const publicDemo = identity === undefined && !isLoopback(e.HOST);
  if (publicDemo && e.ALLOW_PUBLIC_DEMO !== 'true') {
    throw new StartupError(
      `bad environment: HOST ${e.HOST} is reachable from other machines, and no sign-in is set: in demo mode anyone may act as anyone (spend their balance, release their seats). Set AUTH_JWT_SECRET or AUTH_JWKS_URL, or HOST=127.0.0.1, or ALLOW_PUBLIC_DEMO=true to serve the demo to the network on purpose`,
    );
  }
  if (identity !== undefined && e.ALLOW_PUBLIC_DEMO === 'true') {
    throw new StartupError(
      'bad environment: ALLOW_PUBLIC_DEMO=true is set but sign-in is on (AUTH_JWT_SECRET or AUTH_JWKS_URL): there is no demo to allow; unset ALLOW_PUBLIC_DEMO',
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    publicDemo,
    dataDir: e.DATA_DIR,
    database:
      e.DATABASE_URL === undefined
        ? undefined
        : // About 24 connections per machine serve PostgreSQL best: shared out among the workers, at least 6 each.
          {
            url: e.DATABASE_URL,
            poolSize: e.DATABASE_POOL_SIZE ?? Math.max(6, Math.floor(24 / e.WORKERS)),
          },
    workers: e.WORKERS,
    catalog: e.CATALOG,
    fsync: e.FSYNC === 'true',
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    // Only what is set: the engine fills in its own defaults.
    engine: Object.fromEntries(
      Object.entries(engineVariables).flatMap(([name, option]) =>
        e[name as keyof typeof engineVariables] === undefined
          ? []
          : [[option, e[name as keyof typeof engineVariables]]],
      ),
    ) as Partial<EngineConfig>,
    warnings: unknownVariables(env).map(
      (name) => `${name} is not a setting of usher and is ignored${suggestion(name)}`,
    ),
    http: httpLimits(e),
    streams: { maxPerToken: e.MAX_STREAMS_PER_TOKEN, maxLifetimeMs: e.STREAM_MAX_LIFETIME_MS },
    corsOrigins: e.CORS_ORIGINS,
    identity,
    adminToken: e.ADMIN_TOKEN,
    scannerToken: e.SCANNER_TOKEN,
    tokenRate: {
      perMinute: e.TOKEN_RATE_PER_MINUTE,
      burstPerSecond: Math.min(e.TOKEN_RATE_BURST ?? 10, Math.max(1, e.TOKEN_RATE_PER_MINUTE)),
    },
    trustProxy: e.TRUST_PROXY === 'true',
    challenge: challengeConfig(e, env),
    signing: {
      keys: {
        ...(e.PASS_SIGNING_KEY !== undefined ? { pass: e.PASS_SIGNING_KEY[0]! } : {}),
        ...(e.TICKET_SIGNING_KEY !== undefined ? { ticket: e.TICKET_SIGNING_KEY[0]! } : {}),
      },
      previous: {
        pass: e.PASS_SIGNING_KEY_PREVIOUS ?? [],
        ticket: e.TICKET_SIGNING_KEY_PREVIOUS ?? [],
      },
    },
    passReturnOrigins: e.PASS_RETURN_ORIGINS,
  };
}

/**
 * Proof of work: QUEUE_CHALLENGE=pow, with its secret and difficulty; those set without it are a
 * mistake. Gateways that share the line (DATABASE_URL, or WORKERS over 1) must share the secret:
 * a challenge from one must verify on another.
 */
function challengeConfig(
  e: z.infer<typeof Env>,
  env: NodeJS.ProcessEnv,
): ServerConfig['challenge'] {
  if (e.QUEUE_CHALLENGE === 'off') {
    const stray = (['QUEUE_CHALLENGE_SECRET', 'QUEUE_CHALLENGE_MAX_NUMBER'] as const).filter(
      (name) => e[name] !== undefined,
    );
    if (stray.length > 0) {
      throw new StartupError(
        `bad environment: ${stray.join(', ')} ${stray.length > 1 ? 'are' : 'is'} set but QUEUE_CHALLENGE is not pow: set QUEUE_CHALLENGE=pow, or unset ${stray.join(', ')}`,
      );
    }
    return undefined;
  }
  // DATABASE_URL and WORKERS belong to the distributed mode; read as they are here, only to ask for a shared secret.
  const shared =
    (env.DATABASE_URL ?? '') !== '' || (/^\d+$/.test(env.WORKERS ?? '') && Number(env.WORKERS) > 1);
  if (shared && e.QUEUE_CHALLENGE_SECRET === undefined) {
    throw new StartupError(
      'bad environment: QUEUE_CHALLENGE=pow with DATABASE_URL or WORKERS over 1 needs QUEUE_CHALLENGE_SECRET (32+ bytes, the same on every gateway): a challenge issued by one gateway must verify on another',
    );
  }
  return {
    secret: e.QUEUE_CHALLENGE_SECRET,
    maxNumber: e.QUEUE_CHALLENGE_MAX_NUMBER ?? DEFAULT_CHALLENGE_MAX_NUMBER,
  };
}

/**
 * Exactly one of AUTH_JWT_SECRET and AUTH_JWKS_URL, or neither (demo mode, and then no other AUTH_
 * variable). An identity provider's keys sign tokens for every app of the company: with
 * AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE say which of them are this app's sign-ins (only
 * AUTH_ANY_AUDIENCE=true waives the audience).
 */
function identityConfig(e: z.infer<typeof Env>): IdentityConfig | undefined {
  const { AUTH_JWT_SECRET: secret, AUTH_JWKS_URL: jwksUrl } = e;
  const anyAudience = e.AUTH_ANY_AUDIENCE === 'true';
  if (secret !== undefined && jwksUrl !== undefined) {
    throw new StartupError(
      "bad environment: AUTH_JWT_SECRET and AUTH_JWKS_URL are both set: set one of them (a shared HS256 secret, or the identity provider's JWKS URL), not both",
    );
  }
  if (anyAudience && jwksUrl === undefined) {
    throw new StartupError(
      'bad environment: AUTH_ANY_AUDIENCE=true is set but AUTH_JWKS_URL is not: it waives the audience of a JWKS sign-in only',
    );
  }
  if (jwksUrl !== undefined) {
    const missing = [
      ...(e.AUTH_ISSUER === undefined ? ['AUTH_ISSUER'] : []),
      ...(e.AUTH_AUDIENCE === undefined && !anyAudience ? ['AUTH_AUDIENCE'] : []),
    ];
    if (missing.length > 0) {
      throw new StartupError(
        `bad environment: AUTH_JWKS_URL needs ${missing.join(' and ')}: the provider signs tokens for every app it serves, and only its issuer (iss) and this app's audience (aud) tell this app's sign-ins apart (AUTH_ANY_AUDIENCE=true waives the audience, at your risk)`,
      );
    }
    if (anyAudience && e.AUTH_AUDIENCE !== undefined) {
      throw new StartupError(
        'bad environment: AUTH_ANY_AUDIENCE=true and AUTH_AUDIENCE are both set: set AUTH_AUDIENCE to check the audience, or unset it to accept any',
      );
    }
  }
  if (secret === undefined && jwksUrl === undefined) {
    const stray = (['AUTH_USER_CLAIM', 'AUTH_ISSUER', 'AUTH_AUDIENCE'] as const).filter(
      (name) => e[name] !== undefined,
    );
    if (stray.length > 0) {
      throw new StartupError(
        `bad environment: ${stray.join(', ')} ${stray.length > 1 ? 'are' : 'is'} set but neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is: set one of them to verify sign-ins, or unset ${stray.join(', ')} for the demo mode`,
      );
    }
    return undefined;
  }
  const claims = {
    userClaim: e.AUTH_USER_CLAIM ?? 'sub',
    ...(e.AUTH_ISSUER !== undefined ? { issuer: e.AUTH_ISSUER } : {}),
    ...(e.AUTH_AUDIENCE !== undefined ? { audience: e.AUTH_AUDIENCE } : {}),
    ...(anyAudience ? { anyAudience: true as const } : {}),
  };
  return secret !== undefined ? { ...claims, secret } : { ...claims, jwksUrl: jwksUrl! };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether listening on `host` keeps the server to this machine: `localhost`, 127.0.0.0/8, `::1` (also IPv4-mapped). */
function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** `https://shop.example` or `http://localhost:5173`: what a browser sends as `Origin`. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

function httpLimits(e: z.infer<typeof Env>): HttpLimits {
  // Node refuses a headers timeout over the request timeout.
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    throw new StartupError(
      `bad environment: HTTP_HEADERS_TIMEOUT_MS: must not be over HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`,
    );
  }
  return {
    headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    maxConnections: e.MAX_CONNECTIONS,
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
  };
}

/**
 * Variables that look like one of usher's but are none: a known name with a
 * part missing or added (`HOLD_TTL`, `PORT_NUMBER`), one a letter or two off
 * (`QUEUE_MAX_ACTIV`, `DATADIR`), or one in usher's own families (`HOLD_…`,
 * `QUEUE_…`, `TOKEN_…`, `STREAM_…`, `SHUTDOWN_…`, `USHER_…`, `DATABASE_…`). Other variables
 * of the process (`HOME`, `HOSTNAME`, `HTTP_PROXY`) are not usher's business.
 */
const FAMILIES = /^(HOLD|QUEUE|TOKEN|STREAM|SHUTDOWN|USHER|DATABASE)_/;
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = new Set(Object.keys(Env.shape));
  return Object.keys(env)
    .filter((name) => !known.has(name) && /^[A-Z][A-Z0-9_]*$/.test(name))
    .filter((name) => FAMILIES.test(name) || closestKnown(name, known) !== undefined)
    .sort();
}

/** The known name `name` is probably a misspelling of. */
function closestKnown(name: string, known: ReadonlySet<string>): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance =
      candidate.startsWith(`${name}_`) || name.startsWith(`${candidate}_`)
        ? 1
        : editDistance(name, candidate);
    if (
      distance <= (Math.min(name.length, candidate.length) < 6 ? 1 : 2) &&
      (best === undefined || distance < best.distance)
    )
      best = { name: candidate, distance };
  }
  return best?.name;
}

function suggestion(name: string): string {
  const known = closestKnown(name, new Set(Object.keys(Env.shape)));
  return known === undefined ? '' : ` (did you mean ${known}?)`;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
