import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EngineConfig } from '@usher/engine';

/** One call's outcome in a child process: the value, or the refusal's code (`ERROR` for anything not an `EngineError`). */
export type Outcome<T = unknown> =
  { ok: true; value: T } | { ok: false; code: string; message: string };

const worker = fileURLToPath(new URL('./engineWorker.ts', import.meta.url));

/**
 * A PostgreSQL engine in a child process of its own (`engineWorker.ts`),
 * started with this process's `execPath` and `execArgv` (so tsx and the
 * `@usher/source` condition carry over), on the wall clock. Calls go over
 * stdin/stdout as JSON lines.
 *
 * @example
 * ```ts
 * const a = await EngineProcess.start({ connectionString, config: { queueTickMs: 100 } });
 * const [hold] = await a.batch([['reserve', token, { scheduleId: 's', seatNo: 1 }]], Date.now() + 200);
 * a.kill(); // SIGKILL
 * ```
 */
export class EngineProcess {
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #pending = new Map<
    number,
    { resolve: (results: Outcome[]) => void; reject: (error: Error) => void }
  >();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #next = 0;
  #stderr = '';

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.pid = child.pid!;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    void this.exited.then(({ code, signal }) => {
      for (const { reject } of this.#pending.values())
        reject(
          new Error(
            `engine process ${this.pid} exited (${signal ?? code}) ${this.#stderr.slice(-2_000)}`,
          ),
        );
      this.#pending.clear();
    });
  }

  /** Starts the process and waits until its engine is open (migrations applied, listening, keeper timers armed). */
  static async start(options: {
    connectionString: string;
    config?: Partial<EngineConfig>;
    keeper?: boolean;
  }): Promise<EngineProcess> {
    const child = spawn(process.execPath, [...process.execArgv, worker, JSON.stringify(options)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = new EngineProcess(child);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      proc.#stderr += chunk;
      process.stderr.write(`[engine ${proc.pid}] ${chunk}`);
    });
    child.stdin!.on('error', () => undefined);
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        const message = JSON.parse(line) as { ready?: boolean; id?: number; results?: Outcome[] };
        if (message.ready) return resolve();
        const pending = proc.#pending.get(message.id!);
        proc.#pending.delete(message.id!);
        pending?.resolve(message.results!);
      });
      void proc.exited.then(({ code, signal }) =>
        reject(
          new Error(
            `engine process ${proc.pid} exited (${signal ?? code}) before it was ready: ${proc.#stderr}`,
          ),
        ),
      );
    });
    await ready;
    return proc;
  }

  #request(method: string, args: readonly unknown[], at?: number): Promise<Outcome[]> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin!.write(`${JSON.stringify({ id, method, args, at })}\n`);
    });
  }

  /** One engine method, e.g. `call('reserve', token, seat)`. */
  async call<T = unknown>(method: string, ...args: unknown[]): Promise<Outcome<T>> {
    return (await this.#request(method, args))[0] as Outcome<T>;
  }

  /** One engine method whose refusal is a test failure: its value. */
  async must<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    const outcome = await this.call<T>(method, ...args);
    if (!outcome.ok)
      throw new Error(`${method} in process ${this.pid}: ${outcome.code} ${outcome.message}`);
    return outcome.value;
  }

  /** Many calls at once in the child, started when the wall clock reaches `at`; one outcome per call, in order. */
  batch<T = unknown>(
    calls: readonly (readonly [string, ...unknown[]])[],
    options: { at?: number } = {},
  ): Promise<Outcome<T>[]> {
    return this.#request('batch', calls, options.at) as Promise<Outcome<T>[]>;
  }

  /** Issues the users' tokens and waits until each is active; the tokens, in order. */
  activate(userIds: readonly string[]): Promise<string[]> {
    return this.must<string[]>('activate', userIds);
  }

  /** Whether the child's engine holds the keeper's lock now. */
  isKeeper(): Promise<boolean> {
    return this.must<boolean>('isKeeper');
  }

  /** SIGKILL: the process dies at once, mid-command or mid-step. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.exited;
  }

  /** Closes the engine cleanly and waits for the process to end; SIGKILL if it does not within 10 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
