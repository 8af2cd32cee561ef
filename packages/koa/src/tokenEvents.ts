import { PassThrough } from 'node:stream';
import type { Engine } from '@usher/engine';

const KEEP_ALIVE_MS = 15_000;

/**
 * The open event streams of one app. One timer serves them all: a comment
 * line every 15 s keeps proxies from closing idle streams, and streams end
 * within a second of a graceful shutdown starting.
 */
export class TokenEventStreams {
  readonly #open = new Set<PassThrough>();
  readonly #isShuttingDown: () => boolean;
  #timer: NodeJS.Timeout | undefined;
  #ticks = 0;

  constructor(isShuttingDown: () => boolean) {
    this.#isShuttingDown = isShuttingDown;
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * A `text/event-stream` of the token: `event: token` with its view at once,
   * then at each change, ending when the token is active or expired. Throws
   * before anything is streamed if the engine refuses the token.
   */
  async open(engine: Engine, token: string): Promise<PassThrough> {
    const stream = new PassThrough();
    stream.write('retry: 2000\n\n');
    const stop = await engine.watchToken(token, {
      update: (view) => stream.write(`event: token\ndata: ${JSON.stringify(view)}\n\n`),
      end: () => stream.end(),
    });
    if (stream.writableEnded) return stream;
    this.#open.add(stream);
    stream.once('close', () => {
      stop();
      this.#open.delete(stream);
      if (this.#open.size === 0) this.#stopTimer();
    });
    this.#timer ??= setInterval(() => this.#beat(), 1_000).unref();
    return stream;
  }

  #beat(): void {
    const keepAlive = ++this.#ticks % (KEEP_ALIVE_MS / 1_000) === 0;
    const shuttingDown = this.#isShuttingDown();
    for (const stream of this.#open) {
      if (shuttingDown) stream.end();
      else if (keepAlive) stream.write(': keep-alive\n\n');
    }
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
