import { pino, type Logger } from 'pino';

/**
 * Writes of at most this many bytes to a pipe are atomic (POSIX PIPE_BUF, 4096 on Linux): the
 * workers of `WORKERS=N` share the primary's stdout, and a larger write can be split when the
 * pipe is full, splicing another process's lines into the middle of one of ours.
 */
const PIPE_BUF = 4_096;
/** What may wait in memory for stdout (a stuck log collector, a paused terminal); past it, lines are dropped and counted. */
const MAX_BUFFERED = 16 * 1024 * 1024;

/**
 * The server's logger: JSON lines on stdout, written asynchronously. With one
 * access-log line per request, a `write(2)` per line cost ~5% of the CPU of a
 * server under load; lines logged while a write is in flight now go out
 * together in the next, whole lines only, at most {@link PIPE_BUF} bytes at a
 * time. If stdout stops keeping up, at most {@link MAX_BUFFERED} wait; lines
 * past that are dropped, and stderr says how many (once every 10 s at most).
 * Exit through {@link exitAfterFlush}: pino's own exit hook writes what is
 * queued, but not a write that was in flight.
 */
export function createLogger(level: string, base: Record<string, unknown>): Logger {
  const destination = pino.destination({ dest: 1, sync: false, maxWrite: PIPE_BUF, maxLength: MAX_BUFFERED });
  let dropped = 0;
  let lastReport: number | undefined;
  destination.on('drop', () => {
    dropped++;
    const now = performance.now();
    if (lastReport !== undefined && now - lastReport < 10_000) return;
    lastReport = now;
    process.stderr.write(`usher: stdout is not keeping up; ${dropped} log line(s) dropped so far\n`);
  });
  return pino({ level, base }, destination);
}

/** Exits with `code` once the logger's lines are written, or after a second if stdout does not take them. */
export function exitAfterFlush(logger: Logger, code: number): void {
  const exit = () => process.exit(code);
  setTimeout(exit, 1_000);
  logger.flush(exit);
}
