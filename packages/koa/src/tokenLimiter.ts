import ipaddr from 'ipaddr.js';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { HttpProblem } from './errors.js';
import type { Telemetry } from './telemetry.js';

/**
 * Limits on `POST /queue/tokens` per client address: rate-limiter-flexible
 * limiters (a memory store in one process, a shared store such as
 * `RateLimiterPostgres` across gateways), each of which must let a request
 * through, checked in order: a refusal by one spends nothing of the next.
 *
 * @example
 * ```ts
 * import { RateLimiterMemory } from 'rate-limiter-flexible';
 * // 60 a minute, at most 10 of them in one second.
 * const tokenLimiter = [
 *   new RateLimiterMemory({ keyPrefix: 'tokens-second', points: 10, duration: 1 }),
 *   new RateLimiterMemory({ keyPrefix: 'tokens-minute', points: 60, duration: 60 }),
 * ];
 * createApp(engine, { tokenLimiter });
 * ```
 */
export type TokenLimiter = readonly RateLimiterAbstract[];

/**
 * Who is counted: an IPv4 address, or an IPv6 address's /64 (one subscriber's
 * network; a client could otherwise take a new address for every request).
 * An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is its IPv4 address.
 */
export function clientKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((part) => part.toString(16)).join(':')}::/64`;
}

/**
 * Spends one request of `address`'s allowance; over it, throws 429
 * `RATE_LIMITED` with `Retry-After` (whole seconds, at least 1). A limiter
 * whose store fails lets the request through (issuing must not stop because a
 * counter cannot be read) with a warning and `usher_rate_limiter_errors_total`;
 * the server gives its PostgreSQL limiters a memory limiter as insurance, so
 * this is the last resort.
 */
export async function spendTokenRequest(
  limiter: TokenLimiter,
  address: string,
  telemetry: Telemetry,
): Promise<void> {
  const key = clientKey(address);
  for (const each of limiter) {
    try {
      await each.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        telemetry.rateLimited();
        throw rateLimited('too many token requests from your address', error.msBeforeNext);
      }
      telemetry.limiterFailed(error, each.keyPrefix);
    }
  }
}

/** 429 `RATE_LIMITED`: `why`, and when to try again (`Retry-After`, whole seconds, at least 1). */
export function rateLimited(why: string, msBeforeNext: number): HttpProblem {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1_000));
  return new HttpProblem('RATE_LIMITED', `${why}: try again in ${seconds} s`, {
    headers: { 'Retry-After': String(seconds) },
  });
}
