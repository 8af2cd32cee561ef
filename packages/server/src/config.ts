import { configBounds, defaultConfig, type EngineConfig } from '@usher/engine';
import * as z from 'zod';
import { defaultMaxConnections, type HttpLimits } from './connectionLimits.js';

/**
 * A whole number in `[min, max]`, written as digits only: an empty value, a
 * sign, `1.5`, `1e3`, `0x10` or spaces are refused (naming the variable),
 * never read as 0 or as something else. Unset means `fallback`.
 */
const integer = (min: number, max: number, fallback: number | (() => number)) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'must be a whole number, digits only' })
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .optional()
    .transform((value) => value ?? (typeof fallback === 'function' ? fallback() : fallback));
/** An engine option: its bounds and default come from the engine, the one source of truth. */
const engineOption = (option: keyof EngineConfig) => integer(configBounds[option].min, configBounds[option].max, defaultConfig[option]);

/** The environment the server reads (SPEC §7), with defaults. */
const Env = z.object({
  PORT: integer(0, 65_535, 3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  CATALOG: z.string().min(1).optional(),
  HOLD_TTL_MS: engineOption('holdTtlMs'),
  HOLD_SWEEP_MS: engineOption('holdSweepMs'),
  QUEUE_TICK_MS: engineOption('queueTickMs'),
  QUEUE_ADMIT_PER_TICK: engineOption('queueAdmitPerTick'),
  QUEUE_MAX_ACTIVE: engineOption('queueMaxActive'),
  TOKEN_ACTIVE_TTL_MS: engineOption('tokenActiveTtlMs'),
  QUEUE_WAITING_TTL_MS: engineOption('queueWaitingTtlMs'),
  MAX_HOLDS_PER_USER: engineOption('maxHoldsPerUser'),
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
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((value) => (value ?? '').split(',').map((origin) => origin.trim()).filter((origin) => origin !== ''))
    .superRefine((origins, ctx) => {
      for (const origin of origins) {
        if (!isOrigin(origin)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(origin)} is not an origin: write scheme://host[:port], no path, no trailing slash` });
      }
    }),
});

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly catalog: string | undefined;
  readonly fsync: boolean;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  readonly engine: Partial<EngineConfig>;
  readonly http: HttpLimits;
  /** Event streams: open ones per token (one more ends the oldest), and how long one lasts. */
  readonly streams: { readonly maxPerToken: number; readonly maxLifetimeMs: number };
  /** Origins allowed to call the API from a browser (CORS); empty: none. */
  readonly corsOrigins: readonly string[];
}

/** Reads the environment; throws one readable error listing every bad variable. */
export function readConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`bad environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    catalog: e.CATALOG,
    fsync: e.FSYNC === 'true',
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    engine: {
      holdTtlMs: e.HOLD_TTL_MS,
      holdSweepMs: e.HOLD_SWEEP_MS,
      queueTickMs: e.QUEUE_TICK_MS,
      queueAdmitPerTick: e.QUEUE_ADMIT_PER_TICK,
      queueMaxActive: e.QUEUE_MAX_ACTIVE,
      tokenActiveTtlMs: e.TOKEN_ACTIVE_TTL_MS,
      queueWaitingTtlMs: e.QUEUE_WAITING_TTL_MS,
      maxHoldsPerUser: e.MAX_HOLDS_PER_USER,
    },
    http: httpLimits(e),
    streams: { maxPerToken: e.MAX_STREAMS_PER_TOKEN, maxLifetimeMs: e.STREAM_MAX_LIFETIME_MS },
    corsOrigins: e.CORS_ORIGINS,
  };
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
    throw new Error(`bad environment: HTTP_HEADERS_TIMEOUT_MS: must not be over HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`);
  }
  return {
    headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    maxConnections: e.MAX_CONNECTIONS,
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
  };
}
