import { cpus, release, totalmem } from 'node:os';
import type { Spread } from './http/cpu.js';
import type { ScenarioResult } from './http/scenario.js';
import type { InstructionResults } from './instructions.js';
import type { EventsResult } from './scenarios/events.js';
import { ticketsTable, type TicketsResult } from './engine/tickets.js';

export function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
  };
}

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;

/** A row's name, the same in every run: the second `poll` row names its stream count, which depends on the mode. */
export const rowKey = (name: string): string =>
  name.replace(/poll, [\d,]+ streams open/, 'poll, streams open');

/** `193 k (191–194)`, `1.23 M`. */
export function instructionCount(s: ScenarioResult['instructions']): string {
  if (s === undefined) return '';
  const k = (count: number) =>
    count >= 1e6 ? `${(count / 1e6).toFixed(2)} M` : `${Math.round(count / 1e3)} k`;
  const unit = (count: number) =>
    count >= 1e6 ? (count / 1e6).toFixed(2) : String(Math.round(count / 1e3));
  return unit(s.min) === unit(s.max)
    ? k(s.perRequest)
    : `${k(s.perRequest)} (${unit(s.min)}–${unit(s.max)})`;
}

/** What the markdown says about the counted pass. */
function countedPass(results: BenchResults): string {
  const counted = results.instructions;
  if (counted === undefined || 'skipped' in counted)
    return `Instructions per request: not counted in this run (${counted?.skipped ?? 'not measured'}).`;
  const o = counted.options;
  return (
    `Instructions per request (${counted.valgrind}, ${counted.seconds} s; \`src/instructions.ts\`): every row again, each server under callgrind, the same pass in every run: ` +
    `${o.serverWarmUp.toLocaleString('en')} requests uncounted before a server's first row, ${o.warmUp} before the others (the JIT compiles what they run), then ${o.windows} windows of ${o.requests} counted requests, ${o.connections === 1 ? 'one at a time' : `${o.connections} at a time`} on a connection opened before. ` +
    `All the server process's instructions (every thread; user space: the kernel's share is not counted) but the JIT's compilers', per request over all the windows, their min–max beside it; node with \`--single-threaded\`, no full collection, a fixed young generation. ` +
    `The usher server counted starts on a data folder prepared natively (users, both contention dates sold out, holds funded, waiting tokens), nothing on a timer (queue ticks, hold sweeps paused; idle it runs ${counted.idleInstructionsPerSecond.toLocaleString('en')} instructions/s): ` +
    `the contention rows count refusals after the race, the \`poll\` rows polls with ${o.streams.toLocaleString('en')} streams open (in both modes) but no tick moving them.` +
    (counted.failed
      ? ` **The pass stopped early**: ${counted.failed}; the rows after it have no count.`
      : '')
  );
}

/** The markdown tables of a run. */
export function markdown(results: BenchResults): string {
  const lines = [
    `Measured ${results.date} (${results.mode} mode) on ${results.machine.cores} × ${results.machine.cpu}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}, Linux ${results.machine.kernel}.`,
    results.pinned
      ? 'Servers pinned to CPU 0, autocannon to CPU 1; 100 connections.'
      : 'Not pinned (no taskset); 100 connections.',
    `Each scenario ran ${results.host.pairs === 1 ? 'once, right after a run of its baseline' : `${results.host.pairs} times, each run right after a run of its baseline (baseline → scenario → baseline → scenario …)`}, ${results.host.seconds} s per run (payments: ${results.host.pairs === 1 ? 'every hold' : `1/${results.host.pairs} of the holds each run`}). req/s and CPU are the median of the runs; × baseline is the median of the pairs' ratios, min–max beside it. CPU µs/request is the server process's user + system time (\`/proc/<pid>/stat\`, all its threads) over the answered requests; it leaves out the steal time the kernel reports, but while the server keeps its core busy (server CPU %, = CPU/request × req/s) any slowdown not reported as steal raises it as much as it lowers req/s. For a baseline row, the spread is of its runs against their median.`,
    `Host: steal ${results.host.stealPercent ?? '?'}% of all CPU time over the HTTP runs; the baselines' req/s spread ${results.host.baselineSpreadPercent}% (max − min over the median)${results.host.noisy ? ' — **a noisy run** (above 25%): its ratios are only as good as their min–max' : ', a steady run (25% or less)'}.`,
    '',
    countedPass(results),
    '',
    '| scenario | req/s | × baseline (min–max) | CPU µs/request | CPU × baseline (min–max) | instructions/request (min–max) | instructions × baseline | server CPU % | steal % | p50 ms | p99 ms | answers |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...results.http.map(
      (r) =>
        `| ${r.name} | ${r.requestsPerSecond.toLocaleString('en')} | ${ratio(r.ratio)} | ${r.cpuUsPerRequest ?? '?'} | ${ratio(r.cpuRatio)} | ${instructionCount(r.instructions)} | ${r.instructionRatio?.toFixed(2) ?? ''} | ${r.cpuUsPerRequest === undefined ? '?' : Math.round((r.cpuUsPerRequest * r.requestsPerSecond) / 1e4)} | ${r.stealPercent ?? '?'} | ${r.p50Ms} | ${r.p99Ms} | ${Object.entries(
          r.answers,
        )
          .map(([key, count]) => `${key}: ${count.toLocaleString('en')}`)
          .join(
            ', ',
          )}${r.errors || r.timeouts ? `; errors ${r.errors}, timeouts ${r.timeouts}` : ''}${r.retried ? `; ${r.retried} cut off by the end of a run, retried with their key` : ''} |`,
    ),
    '',
    `Invariants after the HTTP scenarios: ${results.invariants}.`,
    '',
    `Server-Sent Events: ${results.events.streams.toLocaleString('en')} streams of waiting tokens open; every 1 s tick admits 1% of them (active tokens last 1 s), so every tick moves everyone. The two \`poll\` rows above are \`GET /queue/tokens/current\` on that server before and with the streams open (× = with / without).`,
    '',
    '| events | value |',
    '|---|---:|',
    `| events per tick (median) | ${results.events.eventsPerTick.toLocaleString('en')} |`,
    `| first to last event of a tick, as clients saw it (median / worst) | ${results.events.spreadMs.p50} / ${results.events.spreadMs.max} ms |`,
    `| time between ticks, as clients saw it (median / worst; the tick is 1,000 ms) | ${results.events.intervalMs.p50} / ${results.events.intervalMs.max} ms |`,
    `| the server's tick, computing every watcher's view (last / worst) | ${results.events.serverTickMs.last} / ${results.events.serverTickMs.max} ms |`,
    '',
    `In-process engines, 1,000 commands in flight, ${results.host.engineRepetitions === 1 ? 'one run each' : `median of ${results.host.engineRepetitions} runs each (fresh processes, interleaved across stores), min–max beside it`}; PostgreSQL is a server of its own on this machine (\`synchronous_commit\` on, every answer after its commit). Latency p50 / p99 in ms; CPU per command in µs (the engine's process + PostgreSQL's), which does not depend on what else the machine runs.`,
    '',
    '| in-process engine | memory store | lowdb store (fsync) | PostgreSQL | PostgreSQL p50 / p99 ms | PostgreSQL CPU µs/command (node + postgres) |',
    '|---|---:|---:|---:|---:|---:|',
    ...(['issue', 'reserve', 'charge', 'pay'] as const).map((op) => {
      const pg = results.engine.latency.postgres[op];
      const rate = (store: 'memory' | 'lowdb' | 'postgres') => {
        const s = results.engine.throughputSpread?.[store][op];
        return `${results.engine.throughput[store][op].toLocaleString('en')}${s && s.min !== s.max ? ` (${s.min.toLocaleString('en')}–${s.max.toLocaleString('en')})` : ''}`;
      };
      return `| ${op} commands/s | ${rate('memory')} | ${rate('lowdb')} | ${rate('postgres')} | ${pg.p50Ms} / ${pg.p99Ms} | ${pg.cpuUsPerCommand.node} + ${pg.cpuUsPerCommand.postgres ?? '?'} |`;
    }),
    '',
    `| PostgreSQL queue, ${results.engine.poll.waiting.toLocaleString('en')} waiting tokens | value |`,
    '|---|---:|',
    `| polls/s (\`getToken\`, random waiting tokens, 1,000 in flight) | ${results.engine.poll.pollsPerSecond.toLocaleString('en')} |`,
    `| poll p50 / p99 | ${results.engine.poll.p50Ms} / ${results.engine.poll.p99Ms} ms |`,
    `| CPU per poll (node + postgres) | ${results.engine.poll.cpuUsPerPoll.node} + ${results.engine.poll.cpuUsPerPoll.postgres ?? '?'} µs |`,
    `| keeper tick admitting ${results.engine.poll.tick.admitted} (median / worst of 5) | ${results.engine.poll.tick.medianMs} / ${results.engine.poll.tick.maxMs} ms |`,
    `| an engine opening on that line (loads the line) | ${results.engine.poll.openMs.toLocaleString('en')} ms |`,
    '',
    '| state | in memory (heap + buffers) | RSS | time |',
    '|---|---:|---:|---:|',
    `| ${results.engine.tokens.count.toLocaleString('en')} waiting tokens | ${mb(results.engine.tokens.heapAndBuffersBytes)} (${results.engine.tokens.bytesPerEntity} B each) | ${mb(results.engine.tokens.rssBytes)} | built in ${results.engine.tokens.buildMs} ms |`,
    `| ${results.engine.seats.count.toLocaleString('en')} seats | ${mb(results.engine.seats.heapAndBuffersBytes)} (${results.engine.seats.bytesPerEntity} B each) | ${mb(results.engine.seats.rssBytes)} | |`,
    `| both, restored from lowdb (${mb(results.engine.restore.snapshotBytes)} snapshot) | ${mb(results.engine.restore.heapBytes)} | ${mb(results.engine.restore.rssBytes)} | restored in ${results.engine.restore.restoreMs} ms |`,
    ...(results.engine.tickets ?? []).flatMap((tickets) => ['', ticketsTable(tickets)]),
  ];
  return lines.join('\n');
}

/** `0.81 (0.78–0.85)`; one run: `0.81`. */
export const ratio = (s: Spread | undefined): string =>
  s === undefined
    ? ''
    : s.min === s.max
      ? s.median.toFixed(2)
      : `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

type Command = 'issue' | 'reserve' | 'charge' | 'pay';
interface Timing {
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerCommand: { node: number; postgres?: number };
}

export interface BenchResults {
  date: string;
  mode: 'quick' | 'full';
  pinned: boolean;
  machine: ReturnType<typeof machine>;
  host: {
    stealPercent: number | undefined;
    baselineSpreadPercent: number;
    noisy: boolean;
    pairs: number;
    seconds: number;
    engineRepetitions: number;
  };
  http: ScenarioResult[];
  /** The counted pass (instructions per request), or why it did not run. */
  instructions?: Omit<InstructionResults, 'rows'> | { skipped: string };
  invariants: string;
  events: Omit<EventsResult, 'pollWithout' | 'pollWith'> & {
    pollWithout: number;
    pollWith: number;
  };
  engine: {
    throughput: Record<'memory' | 'lowdb' | 'postgres', Record<Command, number>>;
    throughputSpread?: Record<'memory' | 'lowdb' | 'postgres', Record<Command, Spread>>;
    latency: Record<'memory' | 'lowdb' | 'postgres', Record<Command, Timing>>;
    poll: {
      waiting: number;
      openMs: number;
      polls: number;
      pollsPerSecond: number;
      p50Ms: number;
      p99Ms: number;
      cpuUsPerPoll: { node: number; postgres?: number };
      tick: { admitted: number; medianMs: number; maxMs: number };
    };
    tokens: {
      count: number;
      heapAndBuffersBytes: number;
      rssBytes: number;
      bytesPerEntity: number;
      buildMs: number;
    };
    seats: { count: number; heapAndBuffersBytes: number; rssBytes: number; bytesPerEntity: number };
    restore: {
      restoreMs: number;
      rssBytes: number;
      heapBytes: number;
      snapshotBytes: number;
      waitingTokens: number;
    };
    /** Tickets in-process (issue 23): signing, refunds, check-ins, on lowdb and PostgreSQL. */
    tickets?: TicketsResult[];
  };
}
