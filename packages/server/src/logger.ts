import { pino, type Logger } from 'pino';

/**
 * The server's logger: JSON lines on stdout, each written synchronously by
 * one `write(2)`. A line is far under PIPE_BUF (4 KB), so a pipe writes it
 * whole: the workers of `WORKERS=N`, sharing the primary's stdout, never
 * splice their lines into each other; nothing waits in memory, so nothing
 * is lost at exit and a stdout that stops keeping up slows the server
 * rather than filling its memory or dropping lines.
 *
 * Asynchronous writes were tried (2026-12-02) and left: batching lines saved
 * the ~3–5% of CPU that a write per line costs under load, but a batch over
 * 4 KB can be split on a full pipe (lines of two workers spliced), one
 * written while the process exits can be lost, and under a saturated event
 * loop the writes fell behind the access log (one line per request) until
 * a bound on memory had to drop lines.
 */
export function createLogger(level: string, base: Record<string, unknown>): Logger {
  return pino({ level, base }, pino.destination({ dest: 1, sync: true }));
}
