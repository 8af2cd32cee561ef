/**
 * `pnpm bench`: every scenario in one run, each bounded, against 127.0.0.1.
 * `BENCH_QUICK=1` runs a few seconds per scenario (CI); the full mode is for people, and counts
 * instructions per request under valgrind as well (`instructions.ts`; `BENCH_INSTRUCTIONS=1` in quick mode).
 * Writes `bench/results/latest.json` and prints the markdown tables.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, stopServer } from './http/load.js';
import { runScenario, shifted, type HttpScenario, type ScenarioResult } from './http/scenario.js';
import { hostTicks, relativeSpread, spread, stealPercent } from './http/cpu.js';
import { countInstructions, INSTRUCTION_OPTIONS } from './instructions.js';
import { machine, markdown, rowKey, type BenchResults } from './report.js';
import {
  browse,
  charge,
  checkContention,
  contention,
  fundHolders,
  pay,
  provisionHolds,
  provisionUsers,
  tokenStorm,
} from './scenarios/http.js';
import { eventStreams } from './scenarios/events.js';
import { checkOrders, ORDER_DATES, orders, RACE_SEATS } from './scenarios/orders.js';
import { checkStore, Ledger } from './scenarios/invariants.js';
import { startUsher } from './scenarios/usherServer.js';
import type { TicketsResult } from './engine/tickets.js';

const quick = process.env.BENCH_QUICK === '1';
/** Seconds of each measured run; full mode repeats each scenario PAIRS times, interleaved with its baseline. */
const seconds = quick ? 3 : 5;
const PAIRS = quick ? 1 : 3;
/** In-process engine runs, each in a fresh process; the figures are their median. */
const ENGINE_REPETITIONS = quick ? 1 : 3;
const WARM_UP_SECONDS = quick ? 1 : 2;
/** A run whose baseline req/s spread (max − min over the median) is above this is reported noisy. */
const NOISY = 0.25;
const USERS = 10_000;
/** Buyers hold seats before the checkout scenario pays them (4 each: the hold limit). */
const BUYERS = quick ? 2_500 : 10_000;
const HOLDS_PER_BUYER = 4;
/** `BENCH_ONLY=orders`: the baselines and the orders rows alone (their table on stdout), nothing else. */
const ordersOnly = process.env.BENCH_ONLY === 'orders';
/** Requests of each orders row but the race (holds and pairs on 100,000 seats; R has 40,000). */
const ORDER_REQUESTS = quick ? 3_000 : 15_000;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const log = (message: string) => process.stderr.write(`${message}\n`);

// The load generator on CPU 1, the servers (see startServer) on CPU 0.
const pinned =
  spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' }).status ===
  0;
const http: ScenarioResult[] = [];
const hostAtStart = hostTicks();

// 1. Baselines: the physical limits, kept running the whole HTTP run, each measured right before every run of a scenario.
type Kind = 'koa-get' | 'koa-post';
const smallBody = { scheduleId: 'contention-50', seatNo: 17 };
interface Baseline {
  readonly url: string;
  readonly pid: number | undefined;
  readonly stop: () => Promise<void>;
  readonly scenario: HttpScenario;
  readonly runs: ScenarioResult[];
}
const baselines = {} as Record<Kind, Baseline>;
for (const kind of ['koa-get', 'koa-post'] as const) {
  const { url, child } = await startServer(here('./http/baselineServer.js'), [kind]);
  const scenario: HttpScenario = {
    name: `baseline: bare Koa ${kind === 'koa-get' ? 'GET' : 'POST (koa-bodyparser)'}`,
    baseline: kind,
    limit: { seconds },
    request: () =>
      kind === 'koa-get'
        ? { method: 'GET', path: '/' }
        : { method: 'POST', path: '/', body: smallBody },
  };
  baselines[kind] = { url, pid: child.pid, stop: () => stopServer(child), scenario, runs: [] };
  log(`- ${scenario.name}: warm-up`);
  await runScenario(url, { ...scenario, limit: { seconds: WARM_UP_SECONDS } });
}

/** Run `k` of `PAIRS`: a time-capped scenario runs in full each time, a count-capped one its `k`-th share; request numbers go on from the previous run. */
function part(scenario: HttpScenario, k: number, offset: number): HttpScenario {
  return shifted(
    scenario,
    offset,
    'seconds' in scenario.limit
      ? scenario.limit
      : { requests: Math.floor(((k + 1) * scenario.limit.requests) / PAIRS) - offset },
  );
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const defined = (values: (number | undefined)[]) =>
  values.filter((value): value is number => value !== undefined);

/** One row from its runs: req/s, latency and CPU per request the median of the runs; answers and counts summed. */
function combine(name: string, baseline: string, runs: ScenarioResult[]): ScenarioResult {
  const answers: Record<string, number> = {};
  for (const run of runs)
    for (const [key, count] of Object.entries(run.answers))
      answers[key] = (answers[key] ?? 0) + count;
  const cpu = defined(runs.map((run) => run.cpuUsPerRequest));
  const steal = defined(runs.map((run) => run.stealPercent));
  return {
    name,
    baseline,
    requestsPerSecond: spread(
      runs.map((run) => run.requestsPerSecond),
      0,
    ).median,
    p50Ms: spread(runs.map((run) => run.p50Ms)).median,
    p99Ms: spread(runs.map((run) => run.p99Ms)).median,
    requests: sum(runs.map((run) => run.requests)),
    errors: sum(runs.map((run) => run.errors)),
    timeouts: sum(runs.map((run) => run.timeouts)),
    answers,
    retried: sum(runs.map((run) => run.retried)),
    sent: sum(runs.map((run) => run.sent)),
    ...(cpu.length > 0 ? { cpuUsPerRequest: spread(cpu, 1).median } : {}),
    ...(steal.length > 0 ? { stealPercent: Math.max(...steal) } : {}),
    runs: runs.map((run) => run.requestsPerSecond),
  };
}

/**
 * Runs a scenario PAIRS times, each run right after a run of its baseline; keeps the row.
 * `warmUp` first runs the same requests unmeasured, so that JIT warm-up is not measured.
 */
async function measure(
  server: { url: string; pid: number | undefined },
  scenario: HttpScenario,
  warmUp?: HttpScenario,
): Promise<ScenarioResult> {
  log(`- ${scenario.name}`);
  const baseline = baselines[scenario.baseline];
  if (warmUp) await runScenario(server.url, { ...warmUp, limit: { seconds: WARM_UP_SECONDS } });
  const pairs: [ScenarioResult, ScenarioResult][] = [];
  let offset = 0;
  for (let k = 0; k < PAIRS; k++) {
    const base = await runScenario(baseline.url, baseline.scenario, { pid: baseline.pid });
    baseline.runs.push(base);
    const start =
      'seconds' in scenario.limit ? offset : Math.floor((k * scenario.limit.requests) / PAIRS);
    const run = await runScenario(server.url, part(scenario, k, start), { pid: server.pid });
    offset += run.sent;
    pairs.push([base, run]);
  }
  const result = combine(
    scenario.name,
    scenario.baseline,
    pairs.map(([, run]) => run),
  );
  result.ratio = spread(pairs.map(([base, run]) => run.requestsPerSecond / base.requestsPerSecond));
  const cpuRatios = pairs.flatMap(([base, run]) =>
    base.cpuUsPerRequest && run.cpuUsPerRequest !== undefined
      ? [run.cpuUsPerRequest / base.cpuUsPerRequest]
      : [],
  );
  if (cpuRatios.length > 0) result.cpuRatio = spread(cpuRatios);
  http.push(result);
  return result;
}

// 2. The usher server, durable acknowledgements on.
const usher = await startUsher();
const ledger = new Ledger();
let invariants = 'not checked';
try {
  log(
    `usher at ${usher.url}; provisioning ${USERS} active users and ${BUYERS} buyers holding ${HOLDS_PER_BUYER} seats each`,
  );
  const users = await provisionUsers(usher.url, USERS, 'user');
  // Orders (issue 22): one-seat holds and best-available pairs on 100,000 seats, then the race for pairs.
  const measureOrders = async () => {
    const order = orders(users, ORDER_REQUESTS, seconds, ledger);
    for (const [k, scenario] of order.scenarios.entries()) {
      const result = await measure(usher, scenario);
      const scheduleId = ORDER_DATES[k]!;
      await checkOrders(
        usher.url,
        users[0]!,
        result,
        ORDER_REQUESTS,
        order.pairs,
        scheduleId,
        scheduleId === 'pairs-R-100000' ? 'R' : undefined,
      );
    }
    const raced = await measure(usher, order.race);
    await checkOrders(usher.url, users[0]!, raced, RACE_SEATS / 2, order.pairs, 'race-1000');
  };
  let held = 0;
  if (ordersOnly) await measureOrders();
  else {
    const buyers = await provisionUsers(usher.url, BUYERS, 'buyer');
    for (const scenario of browse(users, seconds)) await measure(usher, scenario, scenario);
    const holds = await provisionHolds(usher.url, buyers, HOLDS_PER_BUYER, ledger);
    for (const seats of [50, 5_000]) {
      const race = contention(users, seats, seconds, ledger);
      const result = await measure(usher, race.scenario);
      await checkContention(usher.url, users[0]!, result, seats);
      holds.push(...race.holds);
    }
    await measureOrders();
    const storm = tokenStorm(seconds);
    await measure(usher, storm.issue, tokenStorm(WARM_UP_SECONDS, 'warm-up').issue);
    await measure(usher, storm.poll);
    await measure(
      usher,
      charge(
        holds.map((hold) => hold.user),
        users,
        seconds,
        ledger,
      ),
    );
    await fundHolders(usher.url, holds, ledger);
    const paid = await measure(usher, pay(holds, ledger));
    if (paid.answers['201'] !== holds.length)
      throw new Error(
        `${paid.answers['201']} payments for ${holds.length} holds: ${JSON.stringify(paid.answers)}`,
      );
    held = holds.length;
  }
  await usher.stop();
  const counts = await checkStore(usher.dataDir, ledger, {
    ...(ordersOnly
      ? {}
      : { 'contention-50': 50, 'contention-5000': 5_000, checkout: BUYERS * HOLDS_PER_BUYER }),
    'hold-100000': ORDER_REQUESTS,
    'pairs-100000': ORDER_REQUESTS,
    'pairs-R-100000': ORDER_REQUESTS,
    'race-1000': RACE_SEATS / 2,
  });
  invariants = `all hold (durable state after a graceful stop: ${Object.entries(counts)
    .map(([name, count]) => `${count.toLocaleString('en')} ${name}`)
    .join(
      ', ',
    )}; ${held.toLocaleString('en')} holds, each seat claimed once; every wallet = acknowledged charges − acknowledged payments)`;
  log(`invariants: ${invariants}`);
} finally {
  await usher.stop();
  usher.cleanup();
  for (const baseline of Object.values(baselines)) await baseline.stop();
}
// The baseline rows: every run of each baseline in this run; their spread says how steady the host was.
const baselineRows = (['koa-get', 'koa-post'] as const).map((kind) => {
  const row = combine(baselines[kind].scenario.name, kind, baselines[kind].runs);
  row.ratio = spread(
    baselines[kind].runs.map((run) => run.requestsPerSecond / row.requestsPerSecond),
  );
  const cpu = baselines[kind].runs.map((run) => run.cpuUsPerRequest);
  if (row.cpuUsPerRequest && cpu.every((value) => value !== undefined))
    row.cpuRatio = spread(cpu.map((value) => value! / row.cpuUsPerRequest!));
  return row;
});
http.unshift(...baselineRows);
const baselineSpread = Math.max(...baselineRows.map((row) => relativeSpread(row.ratio!)));
const host = {
  stealPercent: stealPercent(hostAtStart, hostTicks()),
  baselineSpreadPercent: Math.round(baselineSpread * 100),
  noisy: baselineSpread > NOISY,
  pairs: PAIRS,
  seconds,
  engineRepetitions: ENGINE_REPETITIONS,
};
log(
  `host: steal ${host.stealPercent ?? '?'}% over the HTTP runs, baseline spread ${host.baselineSpreadPercent}%${host.noisy ? ' (noisy)' : ''}`,
);

if (ordersOnly) {
  const ratio = (spread?: { median: number; min: number; max: number }) =>
    spread ? `${spread.median.toFixed(2)} (${spread.min.toFixed(2)}–${spread.max.toFixed(2)})` : '';
  process.stdout.write(
    [
      `Orders rows alone (BENCH_ONLY=orders), ${new Date().toISOString()}, ${quick ? 'quick' : 'full'} mode; host: steal ${host.stealPercent ?? '?'}%, baseline spread ${host.baselineSpreadPercent}%${host.noisy ? ' (noisy)' : ''}.`,
      `Invariants: ${invariants}.`,
      '',
      '| scenario | req/s | × baseline (min–max) | CPU µs/request | CPU × baseline (min–max) | p50 / p99 ms | answers |',
      '|---|---:|---:|---:|---:|---:|---|',
      ...http
        .filter((row) => row.requests > 0)
        .map(
          (row) =>
            `| ${row.name} | ${row.requestsPerSecond.toLocaleString('en')} | ${ratio(row.ratio)} | ${row.cpuUsPerRequest ?? ''} | ${ratio(row.cpuRatio)} | ${row.p50Ms} / ${row.p99Ms} | ${Object.entries(
              row.answers,
            )
              .map(([key, n]) => `${key}: ${n.toLocaleString('en')}`)
              .join(', ')} |`,
        ),
      '',
    ].join('\n'),
  );
  process.exit(0);
}

// 3. Server-Sent Events: thousands of open streams while the scheduler ticks.
log(`- event streams: ${quick ? 1_000 : 10_000} waiting tokens watching`);
const events = await eventStreams(quick ? 1_000 : 10_000, quick ? 5 : 10);
for (const poll of [events.pollWithout, events.pollWith]) {
  const ratio = poll.requestsPerSecond / events.pollWithout.requestsPerSecond;
  const cpuRatio =
    poll.cpuUsPerRequest !== undefined && events.pollWithout.cpuUsPerRequest
      ? poll.cpuUsPerRequest / events.pollWithout.cpuUsPerRequest
      : undefined;
  http.push({
    ...poll,
    runs: [poll.requestsPerSecond],
    ratio: spread([ratio]),
    ...(cpuRatio === undefined ? {} : { cpuRatio: spread([cpuRatio]) }),
  });
}

// 4. Instructions per request: every HTTP row again, each server under valgrind (a count the host cannot inflate).
// Full mode when valgrind is installed; quick mode only with BENCH_INSTRUCTIONS=1 (it takes minutes, not seconds); BENCH_INSTRUCTIONS=0 skips it.
const counting =
  process.env.BENCH_INSTRUCTIONS === undefined ? !quick : process.env.BENCH_INSTRUCTIONS === '1';
let instructions: BenchResults['instructions'] = {
  skipped: quick ? 'quick mode; BENCH_INSTRUCTIONS=1 counts them' : 'BENCH_INSTRUCTIONS=0',
};
if (counting) {
  const counted = await countInstructions(INSTRUCTION_OPTIONS, log).catch((error: unknown) => {
    log(`instructions per request: failed: ${String(error)}`);
    return error instanceof Error ? error : new Error(String(error));
  });
  if (counted instanceof Error) instructions = { skipped: `failed: ${counted.message}` };
  else if (counted) {
    const { rows, ...rest } = counted;
    instructions = rest;
    for (const row of http) {
      const match = rows.find((candidate) => rowKey(candidate.name) === rowKey(row.name));
      if (!match) continue;
      row.instructions = {
        perRequest: match.instructionsPerRequest,
        min: Math.min(...match.windows),
        max: Math.max(...match.windows),
      };
      row.instructionRatio = match.ratio ?? 1;
    }
  } else instructions = { skipped: 'valgrind is not installed' };
}

// 5. The engine in-process, each measurement in a fresh process.
const node = (args: string[], nodeArgs: string[] = []) =>
  JSON.parse(
    execFileSync(process.execPath, [...nodeArgs, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 })
      .trim()
      .split('\n')
      .at(-1)!,
  );
const count = quick ? 100_000 : 1_000_000;
log(`- engine throughput (memory, lowdb, postgres), ${ENGINE_REPETITIONS} × each`);
type Store = 'memory' | 'lowdb' | 'postgres';
type Command = 'issue' | 'reserve' | 'charge' | 'pay';
type EngineRun = { opsPerSecond: Record<Command, number>; latency: Record<Command, unknown> };
const engineRun = (store: Store, count: number): EngineRun =>
  node([here('./engine/throughput.js'), store, String(count)]);
const engineRuns: Record<Store, EngineRun[]> = { memory: [], lowdb: [], postgres: [] };
// Repetitions interleaved (memory, lowdb, postgres, memory, …): a slow minute of the host does not land on one store's runs only.
for (let k = 0; k < ENGINE_REPETITIONS; k++) {
  engineRuns.memory.push(engineRun('memory', quick ? 20_000 : 200_000));
  engineRuns.lowdb.push(engineRun('lowdb', quick ? 20_000 : 200_000));
  // The same commands on PostgreSQL (a server of its own on this machine, synchronous_commit on).
  engineRuns.postgres.push(engineRun('postgres', quick ? 4_000 : 20_000));
}
const COMMANDS = ['issue', 'reserve', 'charge', 'pay'] as const;
const perCommand = <T>(store: Store, f: (op: Command, runs: EngineRun[]) => T) =>
  Object.fromEntries(COMMANDS.map((op) => [op, f(op, engineRuns[store])])) as Record<Command, T>;
const perStore = <T>(f: (store: Store) => T) => ({
  memory: f('memory'),
  lowdb: f('lowdb'),
  postgres: f('postgres'),
});
const throughput = perStore((store) =>
  perCommand(
    store,
    (op, runs) =>
      spread(
        runs.map((run) => run.opsPerSecond[op]),
        0,
      ).median,
  ),
);
const throughputSpread = perStore((store) =>
  perCommand(store, (op, runs) =>
    spread(
      runs.map((run) => run.opsPerSecond[op]),
      0,
    ),
  ),
);
/** Latency and CPU per command: of the run whose rate was the median. */
const latency = perStore((store) =>
  perCommand(
    store,
    (op, runs) =>
      [...runs].sort((a, b) => a.opsPerSecond[op] - b.opsPerSecond[op])[
        Math.floor((runs.length - 1) / 2)
      ]!.latency[op],
  ),
) as BenchResults['engine']['latency'];
const waitingInPostgres = quick ? 10_000 : 1_000_000;
log(`- postgres polls with ${waitingInPostgres} waiting tokens`);
const poll = node([
  here('./engine/poll.js'),
  String(waitingInPostgres),
  String(quick ? 20_000 : 200_000),
]);
log(`- engine memory: ${count} tokens, ${count} seats`);
const tokens = node([here('./engine/memory.js'), 'tokens', String(count)], ['--expose-gc']);
const seats = node([here('./engine/memory.js'), 'seats', String(count)], ['--expose-gc']);
log('- engine restore');
const dir = mkdtempSync(join(tmpdir(), 'usher-bench-restore-'));
let restore;
try {
  const built = node([here('./engine/restore.js'), 'build', dir, String(count), String(count)]);
  restore = { ...node([here('./engine/restore.js'), 'open', dir], ['--expose-gc']), ...built };
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// 6. Tickets in-process (issue 23): signing a code, refunds and check-ins, invariants checked after.
const holders = quick ? 1_000 : 5_000;
log(`- tickets in-process (signing, refunds, check-ins): lowdb, postgres, ${holders} holders`);
const tickets = (['lowdb', 'postgres'] as const).map(
  (engine) =>
    node([
      here('./engine/tickets.js'),
      engine,
      String(holders),
      String(quick ? 5_000 : 20_000),
    ]) as TicketsResult,
);

const results: BenchResults = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  pinned,
  machine: machine(),
  host,
  http,
  instructions,
  invariants,
  events: {
    ...events,
    pollWithout: events.pollWithout.requestsPerSecond,
    pollWith: events.pollWith.requestsPerSecond,
  },
  engine: { throughput, throughputSpread, latency, poll, tokens, seats, restore, tickets },
};
const resultsDir = here('../results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${markdown(results)}\n`);
