import type { IncomingMessage } from 'node:http';
import { symbols, type Logger } from 'pino';

/** Writes one access-log line (see {@link accessLineWriter}). */
export type AccessLineWriter = (
  requestId: string,
  request: IncomingMessage,
  route: string,
  status: number,
  seconds: number,
) => void;

/** The line's fields besides the message, in the order they are written. */
const FIELDS = ['requestId', 'method', 'route', 'path', 'status', 'durationMs'] as const;

/**
 * The access log: one line when the answer ends, with the request id, method,
 * route template, path (never the query string: it may carry a token), status
 * and duration; no headers (they carry tokens). A 500 is logged as an error,
 * another 5xx as a warning.
 *
 * For a logger whose settings do not touch these fields (no mixin, no log
 * formatter, no hooks, no serializer or redaction of them, no nested key, no
 * message prefix, a stream that needs no metadata: the server's logger), the
 * line is put together here, byte for byte what `logger.info(fields, msg)`
 * writes (pino's level and time strings, its bindings, the same escaping),
 * and written to the logger's stream: pino's generic path (rest arguments,
 * the message's format, a loop over the object's keys) cost about twice the
 * line itself (issue 24: ~32 k instructions per request, ~15 k this way).
 * Any other logger gets `logger[level](fields, msg)`.
 */
export function accessLineWriter(logger: Logger): AccessLineWriter {
  const direct = directWriter(logger);
  return (requestId, request, route, status, seconds) => {
    const level = status === 500 ? 'error' : status >= 500 ? 'warn' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    const path = (request.url ?? '').split('?')[0]!;
    const durationMs = Math.round(seconds * 1_000);
    const msg = `${request.method} ${route} ${status}`;
    if (direct !== undefined)
      direct(level, requestId, request.method!, route, path, status, durationMs, msg);
    else logger[level]({ requestId, method: request.method, route, path, status, durationMs }, msg);
  };
}

type Direct = (
  level: 'info' | 'warn' | 'error',
  requestId: string,
  method: string,
  route: string,
  path: string,
  status: number,
  durationMs: number,
  msg: string,
) => void;

/** pino's internals this reads, by its own exported symbols (`pino.symbols`). */
interface PinoInternals {
  [key: symbol]: unknown;
}

function directWriter(logger: Logger): Direct | undefined {
  const internals = logger as unknown as PinoInternals;
  const formatters = internals[symbols.formattersSym] as { log?: unknown } | undefined;
  const hooks = internals[symbols.hooksSym] as
    { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const serializers = internals[symbols.serializersSym] as Record<string, unknown> | undefined;
  const stringifiers = internals[symbols.stringifiersSym] as
    Record<string | symbol, unknown> | undefined;
  const messageKey = internals[symbols.messageKeySym];
  const stream = internals[symbols.streamSym] as
    ({ write?: unknown } & Record<symbol, unknown>) | undefined;
  const time = internals[symbols.timeSym];
  const levels = internals[symbols.lsCacheSym] as Record<number, string> | undefined;
  const values = (logger as { levels?: { values?: Record<string, number> } }).levels?.values;
  if (
    formatters === undefined ||
    formatters.log !== undefined ||
    hooks === undefined ||
    hooks.logMethod !== undefined ||
    hooks.streamWrite !== undefined ||
    serializers === undefined ||
    stringifiers === undefined ||
    stringifiers[symbols.wildcardFirstSym] !== undefined ||
    typeof messageKey !== 'string' ||
    [...FIELDS, messageKey].some(
      (key) => serializers[key] !== undefined || stringifiers[key] !== undefined,
    ) ||
    internals[symbols.mixinSym] ||
    internals[symbols.nestedKeySym] ||
    internals[(symbols as unknown as Record<string, symbol>).msgPrefixSym!] !== undefined ||
    typeof time !== 'function' ||
    levels === undefined ||
    values === undefined ||
    stream === undefined ||
    typeof stream.write !== 'function' ||
    stream[symbols.needsMetadataGsym] === true ||
    typeof internals[symbols.endSym] !== 'string' ||
    typeof internals[symbols.chindingsSym] !== 'string'
  )
    return undefined;
  const prefixes = {
    info: levels[values.info!],
    warn: levels[values.warn!],
    error: levels[values.error!],
  };
  if (Object.values(prefixes).some((prefix) => typeof prefix !== 'string')) return undefined;
  const messageField = `,${JSON.stringify(messageKey)}:`;
  return (level, requestId, method, route, path, status, durationMs, msg) => {
    const line =
      prefixes[level]! +
      (time as (this: Logger) => string).call(logger) +
      // Read at each line, as pino does (`setBindings` changes them).
      (internals[symbols.chindingsSym] as string) +
      ',"requestId":' +
      asString(requestId) +
      ',"method":' +
      asString(method) +
      ',"route":' +
      asString(route) +
      ',"path":' +
      asString(path) +
      ',"status":' +
      String(status) +
      ',"durationMs":' +
      String(durationMs) +
      messageField +
      asString(msg) +
      (internals[symbols.endSym] as string);
    (stream.write as (line: string) => unknown).call(stream, line);
  };
}

/**
 * A string as pino 10 writes it (lib/tools.js `asString`): JSON.stringify from Node 25 on; before, short
 * strings with quotes and backslashes escaped by hand, JSON.stringify past 100 characters or at a control
 * character. (The two differ only on lone surrogates, which a request line cannot hold.)
 */
const asString =
  Number(process.versions.node.split('.')[0]) >= 25
    ? (value: string): string => JSON.stringify(value)
    : (value: string): string => {
        if (value.length > 100) return JSON.stringify(value);
        let result = '';
        let last = 0;
        let found = false;
        let point = 255;
        for (let i = 0; i < value.length && point >= 32; i++) {
          point = value.charCodeAt(i);
          if (point === 34 || point === 92) {
            result += value.slice(last, i) + '\\';
            last = i;
            found = true;
          }
        }
        if (!found) result = value;
        else result += value.slice(last);
        return point < 32 ? JSON.stringify(value) : `"${result}"`;
      };
