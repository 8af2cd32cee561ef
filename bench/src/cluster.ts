/**
 * `pnpm bench:cluster`: every HTTP scenario against the embedded server and
 * against the server on PostgreSQL with 1 and 2 gateway workers, side by
 * side in one run, with the invariants checked on what each one durably
 * holds afterwards (the lowdb folder, or the database). `BENCH_QUICK=1`: a
 * few seconds per scenario. Load only on 127.0.0.1.
 *
 * The embedded server is pinned to CPU 0 and the load generator to CPU 1, as
 * in `pnpm bench`; a cluster's workers, PostgreSQL and the load generator are
 * given both cores, as they would share one small machine. Every process's
 * cores are set explicitly (a child inherits its parent's mask), read back
 * with `taskset -p` once the row's server runs, printed, and a process on other
 * cores than its row says stops the run.
 * Every row also says where its CPU went, per answered request: the load
 * generator (this process), the server's processes (the primary and its
 * workers) and PostgreSQL's; 2 cores ÷ their sum is what this machine could
 * answer at most with those costs.
 * Writes `bench/results/cluster.json` and prints markdown tables.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario, type HttpScenario, type ScenarioResult } from './http/scenario.js';
import { checkDatabase, checkStore, Ledger } from './scenarios/invariants.js';
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
import {
  benchPostgres,
  CLUSTER_MAX_ACTIVE,
  startCluster,
  stopBenchPostgres,
} from './scenarios/clusterServer.js';
import { sampleActive } from './scenarios/activeSampler.js';
import { processTreeCpuSeconds } from './http/cpu.js';
import { cpuSeconds, postgresCpuSeconds } from './engine/postgres.js';
import { startUsher, type UsherServer } from './scenarios/usherServer.js';
import { checkOrders, ORDER_DATES, orders, ORDERS_ENV, RACE_SEATS } from './scenarios/orders.js';
import {
  checkAll,
  checkIns,
  listTickets,
  refunds,
  splitTickets,
  TICKETS_ENV,
} from './scenarios/tickets.js';
import {
  ALL_CORES,
  checkAffinity,
  describeAffinity,
  hasTaskset,
  postgresPids,
  setAffinity,
} from './http/affinity.js';

const quick = process.env.BENCH_QUICK === '1';
const seconds = quick ? 3 : 10;
// As many as `pnpm bench` uses: the 5,000-seat race needs them (4 holds each at most, and a few seconds to sell out).
const USERS = 10_000;
const BUYERS = quick ? 500 : 2_500;
const HOLDS_PER_BUYER = 4;
/**
 * `BENCH_ORDERS=1`: the orders rows too (issue 22: holds and best-available pairs on 100,000
 * seats, the race for pairs on 1,000), on every target; on PostgreSQL they need an engine that
 * takes the `quantity` body.
 */
const ORDERS = process.env.BENCH_ORDERS === '1';
const ORDER_REQUESTS = quick ? 2_000 : 10_000;
/**
 * `BENCH_TICKETS=1`: the tickets rows too (issue 23), after the checkout: `GET /tickets` of every
 * buyer (their holds paid: `HOLDS_PER_BUYER` tickets each), then half of those tickets refunded
 * by their holders and the other half checked in at the door (`SCANNER_TOKEN` set on every
 * target), each a distinct ticket; on the PostgreSQL targets the load is spread over the
 * gateway workers by the primary. `pnpm bench:tickets` runs them on PostgreSQL with 2 workers.
 */
const TICKETS = process.env.BENCH_TICKETS === '1';
const TICKET_ENV: Record<string, string> = TICKETS ? TICKETS_ENV : {};
const log = (message: string) => process.stderr.write(`${message}\n`);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

type Server = UsherServer & { databaseUrl?: string; pids?: () => number[] };
interface Target {
  readonly name: string;
  /** The cores of the load generator (this process) and of the server's processes (and PostgreSQL's). */
  readonly cores: { readonly load: string; readonly server: string };
  start(): Promise<Server>;
}
/** The bench's PostgreSQL (its processes' CPU time is read from its data folder). */
const postgresDir = (await benchPostgres()).dataDir;
const only = process.env.BENCH_TARGETS?.split(',');
const shared = { load: ALL_CORES, server: ALL_CORES };
const targets: Target[] = [
  {
    name: 'embedded (lowdb)',
    cores: { load: '1', server: '0' },
    start: () => startUsher({ TOKEN_RATE_PER_MINUTE: '0', ...TICKET_ENV }),
  },
  {
    name: 'PostgreSQL, 1 worker',
    cores: shared,
    start: () =>
      startCluster(
        1,
        { TOKEN_RATE_PER_MINUTE: '0', ...ORDERS_ENV, ...TICKET_ENV },
        [],
        shared.server,
      ),
  },
  {
    name: 'PostgreSQL, 2 workers',
    cores: shared,
    start: () =>
      startCluster(
        2,
        { TOKEN_RATE_PER_MINUTE: '0', ...ORDERS_ENV, ...TICKET_ENV },
        [],
        shared.server,
      ),
  },
].filter((target, i) => only === undefined || only.includes(String(i)));
/** Each target's processes and their cores, read back once its server ran. */
const affinity: Record<string, string> = {};

/** This process (the load generator) on the row's cores; its server's processes checked on theirs. */
function checkCores(target: Target, server: Server): string {
  if (!hasTaskset()) return 'not pinned (no taskset)';
  const load = checkAffinity([{ role: 'load generator', pid: process.pid }], target.cores.load);
  const pids = server.pids?.() ?? [server.pid!];
  const processes = [
    ...pids.map((pid, i) => ({ role: i === 0 ? 'server' : 'worker', pid })),
    ...(server.databaseUrl === undefined
      ? []
      : postgresPids(postgresDir).map((pid, i) => ({
          role: i === 0 ? 'postgres' : 'postgres child',
          pid,
        }))),
  ];
  return describeAffinity([...load, ...checkAffinity(processes, target.cores.server)]);
}

interface Row {
  readonly scenario: string;
  readonly target: string;
  readonly requestsPerSecond: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly serverErrors: number;
  readonly answers: Record<string, number>;
  /** CPU µs per answered request: the load generator, the server's processes, PostgreSQL's (cluster targets). */
  readonly cpuUs: { readonly load: number; readonly server: number; readonly postgres?: number };
  /** What this machine could answer at most with those CPU costs (see the CPU table), and req/s ÷ that. */
  readonly ceiling: number;
  readonly ratio: number;
}
const rows: Row[] = [];
const invariants: Record<string, string> = {};

/**
 * The most this machine could answer with a row's CPU costs: 2 cores ÷ (load + server + PostgreSQL) µs for
 * a cluster; for the embedded server (one core each for it and the load generator), the smaller of 1 core ÷ each.
 */
function ceilingOf(cpu: Row['cpuUs'], cluster: boolean): number {
  if (cluster) return 2e6 / Math.max(1e-9, cpu.load + cpu.server + (cpu.postgres ?? 0));
  return Math.min(1e6 / Math.max(1e-9, cpu.load), 1e6 / Math.max(1e-9, cpu.server));
}

/** The CPU seconds used so far by the load generator, the server's processes and (cluster targets) PostgreSQL. */
function cpuNow(server: Server): { load: number; server: number; postgres: number | undefined } {
  return {
    load: cpuSeconds(),
    server: processTreeCpuSeconds(server.pid) ?? 0,
    postgres: server.databaseUrl === undefined ? undefined : postgresCpuSeconds(postgresDir),
  };
}

async function measure(
  target: string,
  server: Server,
  scenario: HttpScenario,
  warmUp?: HttpScenario,
): Promise<ScenarioResult> {
  const { url } = server;
  log(`  - ${scenario.name}`);
  if (warmUp) await runScenario(url, { ...warmUp, limit: { seconds: 1 } });
  const before = cpuNow(server);
  const result = await runScenario(url, scenario);
  const after = cpuNow(server);
  const answered = Object.values(result.answers).reduce((sum, n) => sum + n, 0);
  const per = (used: number) => Math.round((used / Math.max(1, answered)) * 1e7) / 10;
  const cpuUs = {
    load: per(after.load - before.load),
    server: per(after.server - before.server),
    ...(after.postgres === undefined || before.postgres === undefined
      ? {}
      : { postgres: per(after.postgres - before.postgres) }),
  };
  const serverErrors = Object.entries(result.answers)
    .filter(([key]) => key.startsWith('5'))
    .reduce((sum, [, count]) => sum + count, 0);
  rows.push({
    scenario: scenario.name,
    target,
    requestsPerSecond: result.requestsPerSecond,
    p99Ms: result.p99Ms,
    requests: result.requests,
    serverErrors: serverErrors + result.errors + result.timeouts,
    answers: result.answers,
    cpuUs,
    ceiling: Math.round(ceilingOf(cpuUs, server.databaseUrl !== undefined)),
    ratio:
      Math.round(
        (result.requestsPerSecond / ceilingOf(cpuUs, server.databaseUrl !== undefined)) * 100,
      ) / 100,
  });
  return result;
}

try {
  for (const target of targets) {
    log(`${target.name}: starting`);
    if (hasTaskset() && !setAffinity(process.pid, target.cores.load))
      throw new Error(`could not give the load generator cores ${target.cores.load}`);
    const server = await target.start();
    const ledger = new Ledger();
    // A cluster's active tokens, sampled throughout: never past maxActive (the run fails if one is).
    const sampler =
      server.databaseUrl === undefined
        ? undefined
        : sampleActive(server.databaseUrl, CLUSTER_MAX_ACTIVE);
    try {
      log(
        `${target.name} at ${server.url}: provisioning ${USERS} active users and ${BUYERS} buyers holding ${HOLDS_PER_BUYER} seats each`,
      );
      const users = await provisionUsers(server.url, USERS, 'user');
      // Once the workers have said they are ready (and PostgreSQL has its backends): every process's cores.
      affinity[target.name] = checkCores(target, server);
      log(`${target.name}: cores (taskset -p): ${affinity[target.name]}`);
      const buyers = await provisionUsers(server.url, BUYERS, 'buyer');
      for (const scenario of browse(users, seconds))
        await measure(target.name, server, scenario, scenario);
      const holds = await provisionHolds(server.url, buyers, HOLDS_PER_BUYER, ledger);
      for (const seats of [50, 5_000]) {
        const race = contention(users, seats, seconds, ledger);
        // Every seat is asked for once in each `seats` requests: twice round sells all 5,000 at whatever rate the target has.
        const result = await measure(
          target.name,
          server,
          seats > 50 ? { ...race.scenario, limit: { requests: 2 * seats } } : race.scenario,
        );
        await checkContention(server.url, users[0]!, result, seats);
        holds.push(...race.holds);
      }
      if (ORDERS) {
        const order = orders(users, ORDER_REQUESTS, seconds, ledger);
        for (const [k, scenario] of order.scenarios.entries()) {
          const result = await measure(target.name, server, scenario);
          const scheduleId = ORDER_DATES[k]!;
          await checkOrders(
            server.url,
            users[0]!,
            result,
            ORDER_REQUESTS,
            order.pairs,
            scheduleId,
            scheduleId === 'pairs-R-100000' ? 'R' : undefined,
          );
        }
        const raced = await measure(target.name, server, order.race);
        await checkOrders(server.url, users[0]!, raced, RACE_SEATS / 2, order.pairs, 'race-1000');
      }
      const storm = tokenStorm(seconds);
      await measure(target.name, server, storm.issue, tokenStorm(1, 'warm-up').issue);
      await measure(target.name, server, storm.poll);
      await measure(
        target.name,
        server,
        charge(
          holds.map((hold) => hold.user),
          users,
          seconds,
          ledger,
        ),
      );
      await fundHolders(server.url, holds, ledger);
      const paid = await measure(target.name, server, pay(holds, ledger));
      if (paid.answers['201'] !== holds.length)
        throw new Error(
          `${target.name}: ${paid.answers['201']} payments for ${holds.length} holds: ${JSON.stringify(paid.answers)}`,
        );
      if (TICKETS) {
        const listing = listTickets(buyers, HOLDS_PER_BUYER);
        // Warmed up for a second (the same requests, unmeasured): the tables' first reads apart.
        const listed = await measure(target.name, server, listing.scenario, listing.scenario);
        const split = splitTickets(buyers, HOLDS_PER_BUYER, listed, listing.listed);
        checkAll(
          await measure(target.name, server, refunds(split.refunds, ledger)),
          split.refunds.length,
          '200',
        );
        checkAll(
          await measure(target.name, server, checkIns(split.codes)),
          split.codes.length,
          '200',
        );
      }
      await server.stop();
      const sampled = await sampler?.stop();
      const seatsPerSchedule = {
        'contention-50': 50,
        'contention-5000': 5_000,
        checkout: BUYERS * HOLDS_PER_BUYER,
        ...(ORDERS
          ? {
              'hold-100000': ORDER_REQUESTS,
              'pairs-100000': ORDER_REQUESTS,
              'pairs-R-100000': ORDER_REQUESTS,
              'race-1000': RACE_SEATS / 2,
            }
          : {}),
      };
      const counts =
        server.databaseUrl !== undefined
          ? await checkDatabase(server.databaseUrl, ledger, seatsPerSchedule)
          : await checkStore(server.dataDir, ledger, seatsPerSchedule);
      invariants[target.name] = `all hold (${Object.entries(counts)
        .map(([name, count]) => `${count.toLocaleString('en')} ${name}`)
        .join(', ')}${
        sampled
          ? `; at most ${sampled.max.toLocaleString('en')} active tokens in ${sampled.samples} samples, maxActive ${CLUSTER_MAX_ACTIVE.toLocaleString('en')}`
          : ''
      })`;
      log(`${target.name}: invariants ${invariants[target.name]}`);
    } finally {
      await server.stop();
      await sampler?.stop().catch(() => undefined);
      server.cleanup();
    }
  }
} finally {
  await stopBenchPostgres();
}

const scenarios = [...new Set(rows.map((row) => row.scenario))];
const names = targets.map((target) => target.name);
const cell = (scenario: string, target: string) =>
  rows.find((row) => row.scenario === scenario && row.target === target);
const table = [
  `| scenario | ${names.map((name) => `${name}: req/s (p99 ms)`).join(' | ')} | 5xx + errors |`,
  `|---|${names.map(() => '---:').join('|')}|---:|`,
  ...scenarios.map((scenario) => {
    const cells = names.map((name) => {
      const row = cell(scenario, name);
      return row ? `${row.requestsPerSecond.toLocaleString('en')} (${row.p99Ms})` : '–';
    });
    const errors = names
      .map((name) => cell(scenario, name)?.serverErrors ?? 0)
      .reduce((a, b) => a + b, 0);
    return `| ${scenario} | ${cells.join(' | ')} | ${errors} |`;
  }),
].join('\n');
const cpuTable = [
  `| scenario | ${names.map((name) => `${name}: load + server + PostgreSQL µs → at most req/s on 2 cores (ratio)`).join(' | ')} |`,
  `|---|${names.map(() => '---:').join('|')}|`,
  ...scenarios.map((scenario) => {
    const cells = names.map((name) => {
      const row = cell(scenario, name);
      if (!row) return '–';
      const { load, server, postgres } = row.cpuUs;
      const parts = [load, server, ...(postgres === undefined ? [] : [postgres])]
        .map((us) => Math.round(us))
        .join(' + ');
      return `${parts} → ${(Math.round(row.ceiling / 100) * 100).toLocaleString('en')} (${row.ratio.toFixed(2)} of it)`;
    });
    return `| ${scenario} | ${cells.join(' | ')} |`;
  }),
].join('\n');
const results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  seconds,
  users: USERS,
  affinity,
  rows,
  invariants,
};
const resultsDir = here('../results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'cluster.json'), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(
  `${table}\n\nCPU per answered request (µs): the load generator (autocannon and reading the servers' logs), the server's processes (the primary and its workers, those replaced during a run included) and PostgreSQL's; "at most" (the row's ceiling, with its req/s ÷ that in brackets, both also in the JSON) is 2 cores ÷ their sum (for the embedded server, pinned to one core with the load generator on the other, the smaller of 1 core ÷ each):\n\n${cpuTable}\n\nInvariants: ${Object.entries(
    invariants,
  )
    .map(([name, text]) => `${name}: ${text}`)
    .join('; ')}\n\nCores (taskset -p of every process once the row's server ran): ${Object.entries(
    affinity,
  )
    .map(([name, text]) => `${name}: ${text}`)
    .join('; ')}\n`,
);
