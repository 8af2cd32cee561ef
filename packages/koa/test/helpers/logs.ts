import { pino, type Logger } from 'pino';

/** A real pino logger whose lines are kept, parsed, for a test to read. */
export function capturedLogger(): { logger: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, any>) },
  );
  return { logger, lines };
}
