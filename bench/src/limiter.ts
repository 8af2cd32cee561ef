/**
 * `pnpm bench:limiter`: what the limit on joining (`TOKEN_RATE_PER_MINUTE`,
 * rate-limiter-flexible) costs the token storm. The same `POST /queue/tokens`
 * storm against a server without the limit and one with it (set high enough
 * that nothing is refused: every request is counted, none turned away), runs
 * interleaved off/on, on the embedded server (counts in memory) and on
 * PostgreSQL with one worker (counts in the database, shared by gateways).
 * `BENCH_QUICK=1`: 1 pair of 3 s; full: 3 pairs of 5 s. Load only on 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import { runScenario } from './http/scenario.js';
import { startCluster, stopBenchPostgres } from './scenarios/clusterServer.js';
import { tokenStorm } from './scenarios/http.js';
import { startUsher, type UsherServer } from './scenarios/usherServer.js';

const quick = process.env.BENCH_QUICK === '1';
const seconds = quick ? 3 : 5;
const PAIRS = quick ? 1 : 3;
spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const off = { TOKEN_RATE_PER_MINUTE: '0' };
const on = { TOKEN_RATE_PER_MINUTE: '1000000', TOKEN_RATE_BURST: '1000000' };
const modes: { name: string; start: (env: Record<string, string>) => Promise<UsherServer> }[] = [
  { name: 'embedded (memory counts)', start: (env) => startUsher(env) },
  { name: 'PostgreSQL, 1 worker (counts in the database)', start: (env) => startCluster(1, env) },
];

const lines: string[] = [
  '| server | limit off: req/s | limit on: req/s | on / off (median of pairs) | p99 off → on (ms) | refused |',
  '|---|---:|---:|---:|---:|---:|',
];
try {
  for (const mode of modes) {
    const servers = { off: await mode.start(off), on: await mode.start(on) };
    try {
      for (const server of Object.values(servers))
        await runScenario(server.url, tokenStorm(1, `warm-${server.pid}`).issue);
      const pairs: { off: number; on: number; p99: [number, number]; refused: number }[] = [];
      for (let k = 0; k < PAIRS; k++) {
        const a = await runScenario(servers.off.url, tokenStorm(seconds, `off-${k}`).issue);
        const b = await runScenario(servers.on.url, tokenStorm(seconds, `on-${k}`).issue);
        const refused = Object.entries(b.answers)
          .filter(([key]) => key.startsWith('429'))
          .reduce((sum, [, n]) => sum + n, 0);
        pairs.push({
          off: a.requestsPerSecond,
          on: b.requestsPerSecond,
          p99: [a.p99Ms, b.p99Ms],
          refused,
        });
        process.stderr.write(
          `${mode.name}, pair ${k + 1}: off ${a.requestsPerSecond} req/s, on ${b.requestsPerSecond} req/s\n`,
        );
      }
      const median = (values: number[]) =>
        [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
      const ratios = pairs.map((pair) => pair.on / pair.off);
      lines.push(
        `| ${mode.name} | ${median(pairs.map((p) => p.off)).toLocaleString('en')} | ${median(pairs.map((p) => p.on)).toLocaleString('en')} | ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ${pairs.map((p) => `${p.p99[0]} → ${p.p99[1]}`).join(', ')} | ${pairs.reduce((sum, p) => sum + p.refused, 0)} |`,
      );
    } finally {
      for (const server of Object.values(servers)) {
        await server.stop();
        server.cleanup();
      }
    }
  }
} finally {
  await stopBenchPostgres();
}
process.stdout.write(`${lines.join('\n')}\n`);
