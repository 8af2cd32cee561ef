/**
 * Instructions per request: every HTTP row of the bench again, each server under valgrind
 * (callgrind), a fixed number of requests per row after a fixed warm-up. The count does not depend
 * on how fast or how shared the host is, so its ratio to the baseline's is the same on a quiet and on
 * a noisy minute. Run alone: `node instructions.js` (`pnpm bench:instructions`); `pnpm bench` runs it
 * after the timed runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, stopServer } from './http/load.js';
import { runScenario, sendRequests, type HttpScenario } from './http/scenario.js';
import {
  callgrind,
  COUNTED_NODE_FLAGS,
  InstructionCounter,
  valgrindVersion,
} from './http/valgrind.js';
import { openStreams, pollLine, provisionWaiting, streamBudget } from './scenarios/events.js';
import {
  browse,
  charge,
  contention,
  fundHolders,
  pay,
  provisionUsers,
  tokenStorm,
  type Hold,
  type User,
} from './scenarios/http.js';
import { check, Ledger } from './scenarios/invariants.js';
import { orders } from './scenarios/orders.js';
import { startUsher } from './scenarios/usherServer.js';

export interface InstructionOptions {
  /** Counted windows per row. */
  readonly windows: number;
  /** Requests per window. */
  readonly requests: number;
  /** Uncounted requests before each row's windows: its code paths compiled by the JIT. */
  readonly warmUp: number;
  /** Before the first row of each server process instead (everything compiled once). */
  readonly serverWarmUp: number;
  /**
   * Requests in flight (kept-alive connections, opened before the counted windows). One: the server then
   * handles each request in an event-loop turn of its own and writes each durable record alone, whatever the
   * timing; with more, how many requests share a turn or a journal write depends on how fast the host runs it.
   */
  readonly connections: number;
  /** Active users, as in the timed runs (the contention rows' names say how many). */
  readonly users: number;
  /** Event streams open for the second poll row. */
  readonly streams: number;
}

export interface InstructionRow {
  readonly name: string;
  /** Its baseline's kind (the poll rows are divided by the first poll row instead). */
  readonly kind: HttpScenario['baseline'];
  readonly requests: number;
  /** All the server process's instructions but the JIT's compilers', per request, over all the windows. */
  readonly instructionsPerRequest: number;
  /** Each window's (how steady the count is). */
  readonly windows: number[];
  /** The JIT's compilers' instructions per request in the counted windows (left out of the figure above). */
  readonly compiledPerRequest: number;
  /** ÷ the baseline row's instructions per request. */
  ratio?: number;
  readonly answers: Record<string, number>;
  /** Counted requests per second under callgrind (only to say how slow it is). */
  readonly requestsPerSecond: number;
}

export interface InstructionResults {
  readonly valgrind: string;
  readonly options: InstructionOptions;
  readonly rows: InstructionRow[];
  /** Instructions per second of the usher server doing nothing (its timers; JIT compilers left out): what a slower host adds to a window. */
  readonly idleInstructionsPerSecond: number;
  readonly seconds: number;
  /** Why the pass stopped before its last row (the rows before are kept). */
  readonly failed?: string;
}

/**
 * The counted pass, the same in both modes: its figures do not depend on the host, so a longer pass
 * would only be more precise. 1,000 event streams (the timed full run opens 10,000: under valgrind
 * opening them would take minutes).
 */
export const INSTRUCTION_OPTIONS: InstructionOptions = {
  windows: 5,
  requests: 200,
  warmUp: 600,
  serverWarmUp: 2_000,
  connections: 1,
  users: 10_000,
  streams: 1_000,
};

const GET = 'baseline: bare Koa GET';
const POST = 'baseline: bare Koa POST (koa-bodyparser)';
const baselineOf = { 'koa-get': GET, 'koa-post': POST } as const;
const POLL = 'poll, no streams open';
/** Seconds a request may take under valgrind: a request that times out would be counted without its answer. */
const TIMEOUT = 120;
const DAY_MS = String(86_400_000);
/** Every counted server runs with this `HOST` (the usher server listens on it; see {@link InstructionCounter}). */
const HOST = '127.0.0.1';
/** BENCH_KEEP_CALLGRIND=1: the dumps are left for a closer look. */
const KEEP = process.env.BENCH_KEEP_CALLGRIND === '1';
/**
 * BENCH_INSTRUCTION_ROWS='seats|POST /reservations': only the usher rows whose names match (a regular
 * expression), for a quick look at a change; the first row counted gets a server's first warm-up.
 */
const ROWS =
  process.env.BENCH_INSTRUCTION_ROWS === undefined
    ? undefined
    : new RegExp(process.env.BENCH_INSTRUCTION_ROWS);

/** The whole counted pass; undefined (and says why) when valgrind does not run here. */
export async function countInstructions(
  options: InstructionOptions,
  log: (message: string) => void,
): Promise<InstructionResults | undefined> {
  const valgrind = valgrindVersion();
  if (!valgrind) {
    log('instructions per request: skipped, valgrind (callgrind_control) is not installed');
    return undefined;
  }
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-callgrind-'));
  const wrapper = callgrind(dir);
  const { connections } = options;

  /**
   * `warm` uncounted requests of the scenario, then `windows` counted windows of its next ones. `interruptions`:
   * how many times so far the server did work on a timer rather than for requests (a window it falls in is run again).
   */
  async function measure(
    server: { url: string; pid: number | undefined },
    scenario: HttpScenario,
    warm: number,
    interruptions?: () => number,
  ): Promise<InstructionRow> {
    const counter = new InstructionCounter(server.pid!, dir, HOST, KEEP);
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    const windows: {
      answered: number;
      instructions: number;
      compiled: number;
      seconds: number;
      answers: Record<string, number>;
    }[] = [];
    try {
      await sendRequests(server.url, scenario, 0, warm, agent, TIMEOUT);
      await counter.on();
      try {
        let offset = warm;
        for (
          let attempt = 0;
          windows.length < options.windows;
          attempt++, offset += options.requests
        ) {
          if (attempt >= 3 * options.windows)
            throw new Error(
              `${scenario.name}: ${attempt} windows run, ${windows.length} not interrupted`,
            );
          const before = interruptions?.();
          await counter.zero();
          const started = performance.now();
          const answers = await sendRequests(
            server.url,
            scenario,
            offset,
            options.requests,
            agent,
            TIMEOUT,
          );
          const seconds = (performance.now() - started) / 1000;
          const count = await counter.dump();
          const answered = Object.values(answers).reduce((sum, n) => sum + n, 0);
          check(
            answered === options.requests,
            `${scenario.name}: ${answered} answers to ${options.requests} requests counted`,
          );
          if (interruptions?.() !== before) continue;
          windows.push({
            answered,
            instructions: count.total - count.excluded,
            compiled: count.excluded,
            seconds,
            answers,
          });
        }
      } finally {
        await counter.off();
      }
    } finally {
      agent.destroy();
    }
    const sum = (f: (window: (typeof windows)[number]) => number) =>
      windows.reduce((total, window) => total + f(window), 0);
    const answered = sum((window) => window.answered);
    const answers: Record<string, number> = {};
    for (const window of windows)
      for (const [key, n] of Object.entries(window.answers)) answers[key] = (answers[key] ?? 0) + n;
    const perWindow = windows.map((window) => Math.round(window.instructions / window.answered));
    const row: InstructionRow = {
      name: scenario.name,
      kind: scenario.baseline,
      requests: answered,
      instructionsPerRequest: Math.round(sum((window) => window.instructions) / answered),
      windows: perWindow,
      compiledPerRequest: Math.round(sum((window) => window.compiled) / answered),
      answers,
      requestsPerSecond: Math.round(answered / sum((window) => window.seconds)),
    };
    log(
      `  ${scenario.name}: ${instructions(row.instructionsPerRequest)} instructions/request (windows ${row.windows.map(instructions).join(', ')}; JIT compilers ${instructions(row.compiledPerRequest)} more); ${row.requestsPerSecond} req/s counted`,
    );
    return row;
  }

  let idleInstructionsPerSecond = 0;
  const baselineRows: InstructionRow[] = [];
  const usherRows: InstructionRow[] = [];
  /** The first failure: the rows counted before it are kept. */
  let failed: string | undefined;
  const keepGoing = (chain: () => Promise<void>) =>
    chain().catch((error: unknown) => {
      failed ??= String(error);
      log(`instructions per request: ${String(error)}`);
    });
  const prepared = await prepare(options, log);
  try {
    await Promise.all([
      // 1. The baselines, one process each; they run beside the usher server (a count does not depend on what else runs).
      keepGoing(async () => {
        const smallBody = { scheduleId: 'contention-50', seatNo: 17 };
        for (const kind of ['koa-get', 'koa-post'] as const) {
          if (ROWS !== undefined && !ROWS.test(baselineOf[kind])) continue;
          const { url, child } = await startServer(
            fileURLToPath(new URL('./http/baselineServer.js', import.meta.url)),
            [kind],
            { HOST },
            COUNTED_NODE_FLAGS,
            wrapper,
          );
          try {
            const scenario: HttpScenario = {
              name: baselineOf[kind],
              baseline: kind,
              limit: { requests: options.requests },
              request: () =>
                kind === 'koa-get'
                  ? { method: 'GET', path: '/' }
                  : { method: 'POST', path: '/', body: smallBody },
            };
            baselineRows.push(
              await measure({ url, pid: child.pid }, scenario, options.serverWarmUp),
            );
          } finally {
            await stopServer(child);
          }
        }
      }),
      // 2. The usher server on the prepared folder, every usher row in turn.
      keepGoing(async () => {
        const usher = await startUsher(
          COUNTED_ENV(options),
          COUNTED_NODE_FLAGS,
          wrapper,
          prepared.dataDir,
        );
        const streams: { destroy(): void }[] = [];
        try {
          const { users, holds, waiting } = prepared;
          const ledger = new Ledger();
          const [seats, dates] = browse(users, 0);
          let first = true;
          const counted = async (
            scenario: HttpScenario,
            warm: number,
            interruptions?: () => number,
          ) => {
            if (ROWS !== undefined && !ROWS.test(scenario.name)) return;
            const warmUp = first ? Math.max(warm, options.serverWarmUp) : warm;
            first = false;
            usherRows.push(await measure(usher, scenario, warmUp, interruptions));
          };
          await counted(seats!, options.serverWarmUp);
          await counted(dates!, options.warmUp);
          // The seat list again, asked with the ETag of the list as it is: 304, no body (issue 24).
          const listed = await fetch(`${usher.url}/schedules/browse/seats`, {
            headers: { authorization: `Bearer ${users[0]!.token}` },
          });
          const etag = listed.headers.get('etag');
          if (etag !== null)
            await counted(
              {
                ...seats!,
                name: `${seats!.name}, 304 (If-None-Match)`,
                request: (i) => {
                  const request = seats!.request(i);
                  return { ...request, headers: { ...request.headers, 'if-none-match': etag } };
                },
              },
              options.warmUp,
            );
          // Contention after the race (every seat already held): refusals, nearly all of a timed run's answers.
          for (const count of [50, 5_000])
            await counted(contention(users, count, 0, ledger).scenario, options.warmUp);
          // Orders: a one-seat hold and best-available pairs on 100,000 seats (every request held),
          // and the race for pairs on 1,000 seats after it (its warm-up sells them: refusals).
          const order = orders(users, 0, 0, ledger);
          for (const scenario of [...order.scenarios, order.race])
            await counted({ ...scenario, onResponse: () => undefined }, options.warmUp);
          const storm = tokenStorm(0, 'counted');
          await counted(storm.issue, options.warmUp);
          await counted(storm.poll, options.warmUp);
          await counted(charge([], users, 0, ledger), options.warmUp);
          const paid = options.warmUp + options.windows * options.requests;
          check(holds.length >= paid, `${holds.length} holds to pay, ${paid} needed`);
          await counted(pay(holds, ledger), options.warmUp);
          // What the server runs per second doing nothing (its timers): what a slower host adds to a window.
          if (ROWS === undefined) {
            const counter = new InstructionCounter(usher.pid!, dir, HOST, KEEP);
            await counter.on();
            await counter.zero();
            const idleStarted = performance.now();
            await new Promise((resolve) => setTimeout(resolve, 5_000));
            const idle = await counter.dump();
            await counter.off();
            idleInstructionsPerSecond = Math.round(
              (idle.total - idle.excluded) / ((performance.now() - idleStarted) / 1000),
            );
            log(`  idle: ${idleInstructionsPerSecond.toLocaleString('en')} instructions/s`);
          }
          if (ROWS !== undefined && !ROWS.test('poll, streams open')) return;
          // 3. Polls by waiting tokens without and with event streams open (the timed run's `poll` rows, × = with / without).
          const back = waiting.slice(Math.floor(waiting.length / 2));
          await counted(pollLine(POLL, back, { requests: options.requests }), options.warmUp);
          log(`  opening ${waiting.length} event streams`);
          // Every 15 s the server writes a keep-alive comment to every stream: a window it falls in is run again.
          let keepAlives = 0;
          streams.push(
            ...(await openStreams(usher.url, waiting, undefined, () => keepAlives++, 50)),
          );
          // A server's first warm-up again: opening the streams left garbage and new objects that the next collections deal with.
          await counted(
            pollLine(`poll, ${waiting.length.toLocaleString('en')} streams open`, back, {
              requests: options.requests,
            }),
            options.serverWarmUp,
            () => keepAlives,
          );
        } finally {
          for (const stream of streams) stream.destroy();
          await usher.stop();
        }
      }),
    ]);
  } finally {
    prepared.cleanup();
    if (KEEP) log(`callgrind dumps kept in ${dir} (callgrind_annotate --inclusive=yes <file>)`);
    else rmSync(dir, { recursive: true, force: true });
  }
  // Each row against its baseline (the poll rows against polling without streams).
  const rows = [...baselineRows, ...usherRows];
  if (rows.length === 0) throw new Error(failed);
  for (const row of rows) {
    if (row.name.startsWith('baseline') || row.name === POLL) continue;
    const base = rows.find(
      (candidate) =>
        candidate.name === (row.name.startsWith('poll, ') ? POLL : baselineOf[row.kind]),
    );
    if (base)
      row.ratio =
        Math.round((row.instructionsPerRequest / base.instructionsPerRequest) * 100) / 100;
  }
  return {
    valgrind,
    options,
    rows,
    idleInstructionsPerSecond,
    seconds: Math.round((performance.now() - started) / 1000),
    ...(failed === undefined ? {} : { failed }),
  };
}

/** The counted usher server's settings (and its preparation's): nothing runs on a timer, nothing expires during the pass. */
const COUNTED_ENV = (options: InstructionOptions): Record<string, string> => ({
  // The active places are the users'; every other token waits, as in a full timed run.
  QUEUE_MAX_ACTIVE: String(options.users),
  QUEUE_TICK_MS: DAY_MS,
  HOLD_SWEEP_MS: DAY_MS,
  HOLD_TTL_MS: DAY_MS,
  TOKEN_ACTIVE_TTL_MS: DAY_MS,
  QUEUE_WAITING_TTL_MS: DAY_MS,
  // A request under valgrind is ~100 × slower: no connection is cut for being slow.
  HTTP_HEADERS_TIMEOUT_MS: '600000',
  HTTP_REQUEST_TIMEOUT_MS: '600000',
});

interface Prepared {
  readonly dataDir: string;
  readonly users: User[];
  /** Holds on every contention seat, their holders' wallets funded to pay them. */
  readonly holds: Hold[];
  /** Waiting tokens, for the poll rows and their event streams. */
  readonly waiting: string[];
  cleanup(): void;
}

/**
 * The state the counted rows start from, made by the server run natively (seconds, not minutes under
 * valgrind) and left in its data folder: the users, both contention dates sold out, their holders funded,
 * waiting tokens.
 */
async function prepare(
  options: InstructionOptions,
  log: (message: string) => void,
): Promise<Prepared> {
  const usher = await startUsher(COUNTED_ENV(options));
  try {
    const streams = streamBudget(options.streams);
    log(
      `instructions per request: preparing ${options.users} users, the contention dates sold out, ${streams} waiting tokens`,
    );
    const users = await provisionUsers(usher.url, options.users, 'user');
    const ledger = new Ledger();
    const holds: Hold[] = [];
    for (const seats of [50, 5_000]) {
      const race = contention(users, seats, 0, ledger);
      // Every seat is asked for once in each `seats` requests: twice round, any seat a user at the hold limit missed is taken.
      const result = await runScenario(usher.url, {
        ...race.scenario,
        limit: { requests: 2 * seats },
      });
      check(
        result.answers['201'] === seats,
        `preparing ${race.scenario.name}: ${JSON.stringify(result.answers)}`,
      );
      holds.push(...race.holds);
    }
    await fundHolders(usher.url, holds, ledger);
    const waiting = (await provisionWaiting(usher.url, streams)).map((user) => user.token);
    await usher.stop();
    return { dataDir: usher.dataDir, users, holds, waiting, cleanup: () => usher.cleanup() };
  } catch (error) {
    await usher.stop();
    usher.cleanup();
    throw error;
  }
}

/** `1.23 M`, `845 k`. */
export const instructions = (count: number): string =>
  count >= 1e6 ? `${(count / 1e6).toFixed(2)} M` : `${Math.round(count / 1e3)} k`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const log = (message: string) => process.stderr.write(`${message}\n`);
  // BENCH_INSTRUCTION_OPTIONS='{"windows":8}': other options, for a closer look.
  const results = await countInstructions(
    {
      ...INSTRUCTION_OPTIONS,
      ...(JSON.parse(process.env.BENCH_INSTRUCTION_OPTIONS ?? '{}') as Partial<InstructionOptions>),
    },
    log,
  );
  if (results) {
    const lines = [
      `${results.valgrind}: ${results.options.windows} × ${results.options.requests} requests counted per row after ${results.options.warmUp} uncounted (${results.options.serverWarmUp} before a server's first row), ${results.options.connections} connections; ${results.seconds} s.`,
      '',
      ...(results.failed ? [`Stopped early: ${results.failed}`, ''] : []),
      '| row | instructions/request | windows | × baseline | JIT compilers (left out) | answers |',
      '|---|---:|---:|---:|---:|---|',
      ...results.rows.map(
        (row) =>
          `| ${row.name} | ${instructions(row.instructionsPerRequest)} | ${row.windows.map(instructions).join(', ')} | ${row.ratio?.toFixed(2) ?? '1.00'} | ${instructions(row.compiledPerRequest)} | ${Object.entries(
            row.answers,
          )
            .map(([key, count]) => `${key}: ${count}`)
            .join(', ')} |`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
