/**
 * Profiles the usher server under one scenario: `node profile.js <contention|browse|issue|charge> [seconds]`.
 * The server runs with `--cpu-prof`; this prints where its CPU time went (self time by function).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario } from './http/scenario.js';
import {
  browse,
  charge,
  contention,
  pay,
  provisionHolds,
  provisionUsers,
  tokenStorm,
} from './scenarios/http.js';
import { Ledger } from './scenarios/invariants.js';
import { startUsher } from './scenarios/usherServer.js';

const [which = 'contention', secondsArg = '8'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const dir = mkdtempSync(join(tmpdir(), 'usher-profile-'));
const usher = await startUsher({}, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
const users = await provisionUsers(usher.url, 10_000, 'user');
const ledger = new Ledger();
const holds = which === 'pay' ? await provisionHolds(usher.url, users, 4, ledger) : [];
if (which === 'pay')
  await runScenario(usher.url, {
    ...charge([], users, 1, ledger),
    limit: { requests: users.length },
  });
const scenario =
  which === 'pay'
    ? pay(holds, ledger)
    : which === 'browse'
      ? browse(users, seconds)[0]!
      : which === 'issue'
        ? tokenStorm(seconds).issue
        : which === 'charge'
          ? charge([], users, seconds, ledger)
          : { ...contention(users, 50, seconds, ledger).scenario, limit: { seconds } };
const result = await runScenario(usher.url, scenario);
await usher.stop();
usher.cleanup();

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}
const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))!;
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[] };
const total = profile.nodes.reduce((sum, node) => sum + node.hitCount, 0);
const byFunction = new Map<string, number>();
for (const node of profile.nodes) {
  const where = node.callFrame.url
    .replace(/^.*node_modules\/\.pnpm\/([^/]+)\/.*$/, '$1')
    .replace(/^.*\/(packages|bench)\//, '$1/');
  const key = `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + node.hitCount);
}
process.stdout.write(`${result.name}: ${result.requestsPerSecond} req/s\n`);
for (const [key, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
  process.stdout.write(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
}
process.stdout.write(`profile: ${join(dir, file)}\n`);
