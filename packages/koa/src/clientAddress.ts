import { isIP } from 'node:net';
import type { Context } from 'koa';

/**
 * Who sent the request, for the limits and the operator's log: behind a
 * trusted proxy (`trustProxy`) the last `X-Forwarded-For` hop (the one the
 * proxy appended), else the connection's address. A hop is an address only
 * as `node:net`'s `isIP` reads one (dotted-decimal IPv4 without leading zeros,
 * IPv6), optionally with a port as some proxies write it (`1.2.3.4:5678`,
 * `[2001:db8::1]:5678`). Anything else (garbage, `010.8.8.8`, `0x0a.8.8.8`,
 * which other parsers read as more spellings of one address) is not a client
 * of its own: the connection's address counts instead, and `onUnparsed` is told.
 *
 * @example
 * ```ts
 * clientAddress(ctx, true, (hop) => logger.warn({ hop }, 'not an address'));
 * ```
 */
export function clientAddress(
  ctx: Context,
  trustProxy: boolean,
  onUnparsed: (hop: string) => void,
): string {
  const socket = ctx.req.socket.remoteAddress ?? '';
  if (!trustProxy) return socket;
  const forwarded = ctx.get('X-Forwarded-For');
  if (forwarded === '') return socket;
  const hop = forwarded.slice(forwarded.lastIndexOf(',') + 1).trim();
  const address = hopAddress(hop);
  if (address !== undefined) return address;
  onUnparsed(hop);
  return socket;
}

const WITH_PORT = /^(?:\[([^\]]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/;

function hopAddress(hop: string): string | undefined {
  if (isIP(hop) !== 0) return hop;
  const match = WITH_PORT.exec(hop);
  if (match === null || Number(match[3]) > 65_535) return undefined;
  const address = match[1] ?? match[2]!;
  return isIP(address) !== 0 ? address : undefined;
}
