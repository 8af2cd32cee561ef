import { PassThrough } from 'node:stream';
import type { QueueToken, Reservation, UsherEngine, WaitlistEntry } from '@usher/engine';

const KEEP_ALIVE_MS = 15_000;

export interface StreamLimits {
  /** Open streams per token; one more ends the oldest. Default 3. */
  readonly maxPerToken?: number | undefined;
  /** A stream ends after this long (between 90% and 100% of it, so that streams opened together do not reconnect together). Default 15 min. */
  readonly maxLifetimeMs?: number | undefined;
}

/**
 * The open event streams of one app. One timer serves them all: a comment
 * line every 15 s keeps proxies from closing idle streams, and streams end
 * within a second of a graceful shutdown starting. Each stream also ends
 * after its lifetime, and a token has at most `maxPerToken` open: a reloaded
 * page's stream replaces the oldest. Those are normal ends, after which an
 * `EventSource` reconnects by itself (`retry: 2000`).
 */
export class TokenEventStreams {
  readonly #open = new Set<PassThrough>();
  /** The open streams of each token, oldest first. */
  readonly #byToken = new Map<string, Set<PassThrough>>();
  readonly #isShuttingDown: () => boolean;
  readonly #maxPerToken: number;
  readonly #maxLifetimeMs: number;
  #timer: NodeJS.Timeout | undefined;
  #ticks = 0;

  constructor(isShuttingDown: () => boolean, limits: StreamLimits = {}) {
    this.#isShuttingDown = isShuttingDown;
    this.#maxPerToken = limits.maxPerToken ?? 3;
    this.#maxLifetimeMs = limits.maxLifetimeMs ?? 900_000;
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * A `text/event-stream` of the token: `event: token` with its view at once,
   * then at each change, ending when the token is active or expired (or at the
   * end of its lifetime, or when newer streams of the token replace it).
   * Throws before anything is streamed if the engine refuses the token.
   * Each view is sent as `answer` makes it (the active token with its pass).
   */
  async open(
    engine: UsherEngine,
    token: string,
    answer: (view: QueueToken) => QueueToken | Promise<QueueToken> = (view) => view,
  ): Promise<PassThrough> {
    const stream = new PassThrough();
    stream.write('retry: 2000\n\n');
    // `answer` may take a moment (an active token's pass is signed): events keep their order, and the end comes after the last.
    let written = Promise.resolve();
    const stop = await engine.watchToken(token, {
      update: (view) => {
        written = written
          .then(() => answer(view))
          .then(
            (shown) => {
              if (!stream.writableEnded)
                stream.write(`event: token\ndata: ${JSON.stringify(shown)}\n\n`);
            },
            () => {
              stream.destroy();
            },
          );
      },
      end: () => {
        written = written.then(() => {
          stream.end();
        });
      },
    });
    await written;
    return this.#track(stream, token, stop);
  }

  /**
   * A `text/event-stream` of the token's user's waitlist entry of a schedule
   * (SPEC §11, "their event stream"): `event: waitlist` with the entry at
   * once and at every change, `event: reservation` with each hold offered to
   * them; when the entry is gone (fulfilled or left), a last `event:
   * waitlist` with `data: null`, and the stream ends. Same lifetime, limits
   * and keep-alives as a token's stream. Throws before anything is streamed
   * if the engine refuses (`WAITLIST_NOT_FOUND`, `TOKEN_INVALID`, …).
   */
  async openWaitlist(engine: UsherEngine, token: string, scheduleId: string): Promise<PassThrough> {
    const stream = new PassThrough();
    stream.write('retry: 2000\n\n');
    const write = (event: string, data: unknown) => {
      if (!stream.writableEnded) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const stop = await engine.watchWaitlist(token, scheduleId, {
      entry: (entry: WaitlistEntry | undefined) => {
        write('waitlist', entry ?? null);
        if (entry === undefined) stream.end();
      },
      reservation: (reservation: Reservation) => write('reservation', reservation),
      end: () => stream.end(),
    });
    return this.#track(stream, `waitlist ${scheduleId} ${token}`, stop);
  }

  /** Keeps an open stream: its lifetime, the per-key limit, the keep-alives and shutdown; `stop` when it closes. */
  #track(stream: PassThrough, token: string, stop: () => void): PassThrough {
    if (stream.writableEnded) {
      stop();
      return stream;
    }
    this.#open.add(stream);
    let mine = this.#byToken.get(token);
    if (mine === undefined) this.#byToken.set(token, (mine = new Set()));
    mine.add(stream);
    if (mine.size > this.#maxPerToken) {
      const [oldest] = mine;
      mine.delete(oldest!);
      oldest!.end();
    }
    const lifetime = setTimeout(
      () => stream.end(),
      this.#maxLifetimeMs * (0.9 + Math.random() * 0.1),
    ).unref();
    stream.once('close', () => {
      stop();
      clearTimeout(lifetime);
      this.#open.delete(stream);
      if (mine.delete(stream) && mine.size === 0 && this.#byToken.get(token) === mine)
        this.#byToken.delete(token);
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
