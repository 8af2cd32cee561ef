/**
 * `pnpm bench`: every scenario in one run, each bounded, against 127.0.0.1.
 * `BENCH_QUICK=1` runs a few seconds per scenario (CI); the full mode is for people.
 * Writes `bench/results/latest.json` and prints the markdown tables.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, stopServer } from './http/load.js';
import { runScenario, type HttpScenario, type ScenarioResult } from './http/scenario.js';
import { machine, markdown, type BenchResults } from './report.js';
import { browse, charge, checkContention, contention, fundHolders, pay, provisionHolds, provisionUsers, tokenStorm } from './scenarios/http.js';
import { eventStreams } from './scenarios/events.js';
import { checkStore, Ledger } from './scenarios/invariants.js';
import { startUsher } from './scenarios/usherServer.js';

const quick = process.env.BENCH_QUICK === '1';
const seconds = quick ? 3 : 10;
const WARM_UP_SECONDS = quick ? 1 : 2;
const USERS = 10_000;
/** Buyers hold seats before the checkout scenario pays them (4 each: the hold limit). */
const BUYERS = quick ? 2_500 : 10_000;
const HOLDS_PER_BUYER = 4;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const log = (message: string) => process.stderr.write(`${message}\n`);

// The load generator on CPU 1, the servers (see startServer) on CPU 0.
const pinned = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' }).status === 0;
const http: ScenarioResult[] = [];

/** Runs a scenario and keeps its result; `warmUp` first runs the same requests unmeasured, so that JIT warm-up is not measured. */
async function measure(url: string, scenario: HttpScenario, warmUp?: HttpScenario): Promise<ScenarioResult> {
  log(`- ${scenario.name}`);
  if (warmUp) await runScenario(url, { ...warmUp, limit: { seconds: WARM_UP_SECONDS } });
  const result = await runScenario(url, scenario);
  http.push(result);
  return result;
}

// 1. Baselines: the physical limits, in this same run.
const smallBody = { scheduleId: 'contention-50', seatNo: 17 };
for (const kind of ['koa-get', 'koa-post'] as const) {
  const { url, child } = await startServer(here('./http/baselineServer.js'), [kind]);
  const baseline: HttpScenario = {
    name: `baseline: bare Koa ${kind === 'koa-get' ? 'GET' : 'POST (koa-bodyparser)'}`,
    baseline: kind,
    limit: { seconds },
    request: () => (kind === 'koa-get' ? { method: 'GET', path: '/' } : { method: 'POST', path: '/', body: smallBody }),
  };
  await measure(url, baseline, baseline);
  await stopServer(child);
}

// 2. The usher server, durable acknowledgements on.
const usher = await startUsher();
const ledger = new Ledger();
let invariants = 'not checked';
try {
  log(`usher at ${usher.url}; provisioning ${USERS} active users and ${BUYERS} buyers holding ${HOLDS_PER_BUYER} seats each`);
  const users = await provisionUsers(usher.url, USERS, 'user');
  const buyers = await provisionUsers(usher.url, BUYERS, 'buyer');
  for (const scenario of browse(users, seconds)) await measure(usher.url, scenario, scenario);
  const holds = await provisionHolds(usher.url, buyers, HOLDS_PER_BUYER, ledger);
  for (const seats of [50, 5_000]) {
    const race = contention(users, seats, seconds, ledger);
    const result = await measure(usher.url, race.scenario);
    await checkContention(usher.url, users[0]!, result, seats);
    holds.push(...race.holds);
  }
  const storm = tokenStorm(seconds);
  await measure(usher.url, storm.issue, tokenStorm(WARM_UP_SECONDS, 'warm-up').issue);
  await measure(usher.url, storm.poll);
  await measure(usher.url, charge(holds.map((hold) => hold.user), users, seconds, ledger));
  await fundHolders(usher.url, holds, ledger);
  const paid = await measure(usher.url, pay(holds, ledger));
  if (paid.answers['201'] !== holds.length) throw new Error(`${paid.answers['201']} payments for ${holds.length} holds: ${JSON.stringify(paid.answers)}`);
  await usher.stop();
  const counts = await checkStore(usher.dataDir, ledger, { 'contention-50': 50, 'contention-5000': 5_000, checkout: BUYERS * HOLDS_PER_BUYER });
  invariants = `all hold (durable state after a graceful stop: ${Object.entries(counts)
    .map(([name, count]) => `${count.toLocaleString('en')} ${name}`)
    .join(', ')}; ${holds.length.toLocaleString('en')} holds, each seat claimed once; every wallet = acknowledged charges − acknowledged payments)`;
  log(`invariants: ${invariants}`);
} finally {
  await usher.stop();
  usher.cleanup();
}
for (const result of http) {
  const baseline = http.find((r) => r.name.startsWith('baseline') && r.baseline === result.baseline);
  if (baseline && !result.name.startsWith('baseline')) result.ratio = Math.round((result.requestsPerSecond / baseline.requestsPerSecond) * 100) / 100;
}

// 3. Server-Sent Events: thousands of open streams while the scheduler ticks.
log(`- event streams: ${quick ? 1_000 : 10_000} waiting tokens watching`);
const events = await eventStreams(quick ? 1_000 : 10_000, quick ? 5 : 10);
for (const poll of [events.pollWithout, events.pollWith]) http.push({ ...poll, ratio: Math.round((poll.requestsPerSecond / events.pollWithout.requestsPerSecond) * 100) / 100 });

// 4. The engine in-process, each measurement in a fresh process.
const node = (args: string[], nodeArgs: string[] = []) => JSON.parse(execFileSync(process.execPath, [...nodeArgs, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').at(-1)!);
const count = quick ? 100_000 : 1_000_000;
log('- engine throughput (memory, lowdb, postgres)');
const engineRun = (store: 'memory' | 'lowdb' | 'postgres', count: number) => node([here('./engine/throughput.js'), store, String(count)]);
const runs = {
  memory: engineRun('memory', quick ? 20_000 : 200_000),
  lowdb: engineRun('lowdb', quick ? 20_000 : 200_000),
  // The same commands on PostgreSQL (a server of its own on this machine, synchronous_commit on).
  postgres: engineRun('postgres', quick ? 4_000 : 40_000),
};
const throughput = { memory: runs.memory.opsPerSecond, lowdb: runs.lowdb.opsPerSecond, postgres: runs.postgres.opsPerSecond };
const latency = { memory: runs.memory.latency, lowdb: runs.lowdb.latency, postgres: runs.postgres.latency };
const waitingInPostgres = quick ? 10_000 : 1_000_000;
log(`- postgres polls with ${waitingInPostgres} waiting tokens`);
const poll = node([here('./engine/poll.js'), String(waitingInPostgres), String(quick ? 20_000 : 200_000)]);
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

const results: BenchResults = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  pinned,
  machine: machine(),
  http,
  invariants,
  events: { ...events, pollWithout: events.pollWithout.requestsPerSecond, pollWith: events.pollWith.requestsPerSecond },
  engine: { throughput, latency, poll, tokens, seats, restore },
};
const resultsDir = here('../results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${markdown(results)}\n`);
