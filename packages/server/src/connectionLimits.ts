import { readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface HttpLimits {
  /**
   * A request's headers must have arrived within this, counted from its first
   * byte, or from the connection for a connection that has sent nothing yet.
   */
  readonly headersTimeoutMs: number;
  /** A whole request (headers and body, not the answer) must have arrived within this. */
  readonly requestTimeoutMs: number;
  /** Open connections in all; at the cap, the connection idle the longest makes room. */
  readonly maxConnections: number;
  /**
   * Open connections per client address; `0`: no cap (behind a proxy every connection comes from
   * its address). Loopback addresses (127.0.0.0/8, ::1) are not capped: they are this machine, a
   * load test or a local proxy.
   */
  readonly maxConnectionsPerAddress: number;
}

/** Whether `address` (as `socket.remoteAddress` gives it) is this machine: 127.0.0.0/8, `::1`, or either mapped to IPv6. */
export function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./i.test(address);
}

const RESERVED_FILES = 64;
const MAX_DEFAULT = 10_000;

/**
 * The open-file limit of this process less 64 descriptors for the store and
 * the rest, at most 10,000; 10,000 where the limit cannot be read (Linux only).
 * Node raises the soft limit to the hard one at start, so this is what the
 * process can really open.
 */
export function defaultMaxConnections(limitsFile = '/proc/self/limits'): number {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return MAX_DEFAULT;
  }
  const soft = Number(/^Max open files\s+(\d+)/m.exec(text)?.[1]);
  if (!Number.isSafeInteger(soft) || soft <= 0) return MAX_DEFAULT;
  return Math.min(
    MAX_DEFAULT,
    soft > 2 * RESERVED_FILES ? soft - RESERVED_FILES : Math.max(1, Math.floor(soft / 2)),
  );
}

/**
 * Node's own timeouts. Node checks them every `connectionsCheckingInterval`
 * (30 s by default): checked at a tenth of the headers timeout (0.1 to 1 s),
 * a silent connection goes close to on time. The request timeout covers
 * receiving the request only: a long answer such as an event stream is not cut.
 */
export function serverOptions(limits: HttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(
      1_000,
      Math.max(100, Math.floor(limits.headersTimeoutMs / 10)),
    ),
  };
}

interface Connection {
  readonly address: string;
  /** Requests answered or being answered. */
  inFlight: number;
  /** `socket.bytesRead` when the connection last went idle: more since means a request is arriving. */
  readAtIdle: number;
}

/**
 * Caps the server's open connections, in all and per client address. A
 * connection over its address's cap is closed at once; addresses for which
 * `uncapped` is true (loopback by default) have no cap of their own. At the total cap the
 * connection idle the longest (one that never sent a byte, or a keep-alive
 * connection between requests) is closed to make room; only when every
 * connection has a request in flight is the new one refused. Idle sockets
 * can so never lock a new client out. Closed connections get no answer.
 */
export function limitConnections(
  server: Server,
  limits: HttpLimits,
  logger: Logger,
  { uncapped = isLoopback }: { uncapped?: (address: string) => boolean } = {},
): void {
  const connections = new Map<Socket, Connection>();
  /** Connections with no request in flight, in the order they went idle. */
  const idle = new Set<Socket>();
  const perAddress = new Map<string, number>();

  const forget = (socket: Socket) => {
    const connection = connections.get(socket);
    if (connection === undefined) return;
    connections.delete(socket);
    idle.delete(socket);
    const count = perAddress.get(connection.address)! - 1;
    if (count === 0) perAddress.delete(connection.address);
    else perAddress.set(connection.address, count);
  };
  const longestIdle = () => {
    // A connection in `idle` that has read bytes since is receiving a request: skip it.
    for (const socket of idle)
      if (socket.bytesRead === connections.get(socket)!.readAtIdle) return socket;
    return undefined;
  };

  // At most one warning a minute, with what happened since the last one and the setting to change.
  const counts = { overAddressCap: 0, closedIdle: 0, refused: 0 };
  let warnedAt = -Infinity;
  const count = (what: keyof typeof counts, address: string) => {
    counts[what]++;
    if (performance.now() - warnedAt < 60_000) return;
    warnedAt = performance.now();
    logger.warn(
      {
        ...counts,
        address,
        open: connections.size,
        limits: {
          maxConnections: limits.maxConnections,
          maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
        },
      },
      what === 'overAddressCap'
        ? `connection from ${address} closed: it has MAX_CONNECTIONS_PER_ADDRESS=${limits.maxConnectionsPerAddress} open already ` +
            '(raise it where many clients share an address; 0 behind a proxy); at most one such line a minute'
        : `connection ${what === 'refused' ? 'refused' : 'made room for by closing an idle one'}: ` +
            `MAX_CONNECTIONS=${limits.maxConnections} open; at most one such line a minute`,
    );
    counts.overAddressCap = counts.closedIdle = counts.refused = 0;
  };

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined) return void socket.destroy();
    const fromAddress = perAddress.get(address) ?? 0;
    if (
      limits.maxConnectionsPerAddress > 0 &&
      fromAddress >= limits.maxConnectionsPerAddress &&
      !uncapped(address)
    ) {
      count('overAddressCap', address);
      return void socket.destroy();
    }
    if (connections.size >= limits.maxConnections) {
      const victim = longestIdle();
      if (victim === undefined) {
        count('refused', address);
        return void socket.destroy();
      }
      count('closedIdle', address);
      forget(victim);
      victim.destroy();
    }
    connections.set(socket, { address, inFlight: 0, readAtIdle: 0 });
    idle.add(socket);
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => forget(socket));
  });

  server.on('request', (request, response) => {
    const socket = request.socket;
    const connection = connections.get(socket);
    if (connection === undefined) return;
    connection.inFlight++;
    idle.delete(socket);
    response.on('close', () => {
      if (--connection.inFlight > 0 || !connections.has(socket)) return;
      connection.readAtIdle = socket.bytesRead;
      idle.add(socket);
    });
  });

  logger.info({ ...limits }, 'http limits');
}
