/**
 * A child process holding one PostgreSQL engine on the wall clock, driven by
 * its parent over stdin/stdout, one JSON line each way (see `engineProcess.ts`,
 * which starts it and speaks this protocol).
 *
 * `argv[2]` is `{ connectionString, config?, keeper? }`. Once the engine is
 * open it prints `{ "ready": true, "pid": … }`. Then each request line
 * `{ id, method, args?, at? }` gets one answer line `{ id, results }` where
 * every result is `{ ok: true, value }` or `{ ok: false, code, message }`
 * (`code` is the `EngineError` code, or `ERROR` for anything else):
 *
 * - `method` an engine method (`reserve`, `charge`, …): one call, one result.
 * - `batch` with `args: [[method, ...args], …]`: every call at once (waiting
 *   first until the wall clock reaches `at`, so that two processes start
 *   together), one result per call, in order.
 * - `activate` with `args: [userIds]`: issues their tokens and polls until each
 *   is active (the keepers admit them); the value is the tokens, in order.
 * - `isKeeper`: whether this engine holds the keeper's lock.
 *
 * Errors go to stderr; stdout carries only answers.
 */
import { isEngineError } from '@usher/engine';
import { createPostgresEngine, type PostgresEngine } from '@usher/postgres';

interface Request {
  readonly id: number;
  readonly method: string;
  readonly args?: readonly unknown[];
  readonly at?: number;
}

type Result = { ok: true; value: unknown } | { ok: false; code: string; message: string };

const options = JSON.parse(process.argv[2] ?? '{}') as {
  connectionString: string;
  config?: object;
  keeper?: boolean;
};
const engine: PostgresEngine = await createPostgresEngine({
  connectionString: options.connectionString,
  config: options.config ?? {},
  keeper: options.keeper ?? true,
});

const send = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function settle(call: () => Promise<unknown>): Promise<Result> {
  try {
    return { ok: true, value: (await call()) ?? null };
  } catch (error) {
    if (isEngineError(error)) {
      const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
      return { ok: false, code: error.code, message: `${error.message}${cause}` };
    }
    process.stderr.write(
      `engineWorker ${process.pid}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return {
      ok: false,
      code: 'ERROR',
      message: error instanceof Error ? error.message : String(error),
    };
  }
}

function invoke(method: string, args: readonly unknown[]): Promise<unknown> {
  const fn = (engine as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') return Promise.reject(new Error(`no engine method ${method}`));
  return (fn as (...a: unknown[]) => Promise<unknown>).apply(engine, [...args]);
}

/** Issues each user's token and polls it until it is active (or 30 s pass). */
async function activate(userIds: readonly string[]): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  const tokens: string[] = [];
  for (let i = 0; i < userIds.length; i += 50) {
    const chunk = userIds.slice(i, i + 50);
    tokens.push(
      ...(await Promise.all(
        chunk.map(async (userId) => {
          let view = (await engine.issueToken(userId)).token;
          while (view.status === 'waiting') {
            if (Date.now() > deadline)
              throw new Error(`the token of ${userId} was not admitted within 30 s`);
            await sleep(50);
            view = await engine.getToken(view.token);
          }
          if (view.status !== 'active') throw new Error(`the token of ${userId} is ${view.status}`);
          return view.token;
        }),
      )),
    );
  }
  return tokens;
}

async function handle(request: Request): Promise<Result[]> {
  const args = request.args ?? [];
  switch (request.method) {
    case 'batch': {
      const calls = args as readonly (readonly [string, ...unknown[]])[];
      if (request.at !== undefined) await sleep(request.at - Date.now());
      return Promise.all(calls.map(([method, ...rest]) => settle(() => invoke(method, rest))));
    }
    case 'activate':
      return [await settle(() => activate(args[0] as string[]))];
    case 'isKeeper':
      return [{ ok: true, value: engine.isKeeper }];
    case 'close':
      return [await settle(() => engine.close())];
    default:
      return [await settle(() => invoke(request.method, args))];
  }
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as Request;
    void handle(request).then((results) => send({ id: request.id, results }));
  }
});
// The parent went away: close and leave.
process.stdin.on('end', () => {
  void engine.close().finally(() => process.exit(0));
});

send({ ready: true, pid: process.pid });
