/**
 * A store's files are damaged in a way it cannot safely recover from: a bad
 * record that is not the torn tail of the journal, a gap in the sequence, an
 * unreadable snapshot with nothing to fall back on. The store refuses to open
 * rather than start from less than what it had acknowledged.
 */
export class StoreCorruptedError extends Error {
  override readonly name = 'StoreCorruptedError';
  /** The file at fault. */
  readonly file: string;
  /** 1-based line, when the damage is in a journal line. */
  readonly line: number | undefined;

  constructor(file: string, message: string, options: { line?: number; cause?: unknown } = {}) {
    super(
      `${file}${options.line === undefined ? '' : `:${options.line}`}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.file = file;
    this.line = options.line;
  }
}
