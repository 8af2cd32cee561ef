/**
 * Profiles the usher server under one scenario: `node profile.js <seats|dates|contention|issue|poll|charge|pay> [seconds]`.
 * The server runs with V8's CPU profiler on for the measured window only (after provisioning and a warm-up of
 * the same scenario), and this prints where its CPU time went: self time by module, by function, and the
 * inclusive time of the frames that are the request's stages (each middleware, the handler, the engine).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario, type HttpScenario } from './http/scenario.js';
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
const file = join(dir, 'window.cpuprofile');
const hook = fileURLToPath(new URL('./http/profileHook.js', import.meta.url));
const usher = await startUsher({ BENCH_PROFILE_FILE: file }, [`--import=${hook}`]);
const users = await provisionUsers(usher.url, 10_000, 'user');
const ledger = new Ledger();
const holds = which === 'pay' ? await provisionHolds(usher.url, users, 4, ledger) : [];
if (which === 'pay')
  await runScenario(usher.url, {
    ...charge([], users, 1, ledger),
    limit: { requests: users.length },
  });
if (which === 'contention')
  await runScenario(usher.url, {
    ...contention(users, 50, 3, ledger).scenario,
    limit: { seconds: 3 },
  });
const make = (s: number): HttpScenario =>
  which === 'pay'
    ? pay(holds, ledger)
    : which === 'seats'
      ? browse(users, s)[0]!
      : which === 'dates'
        ? browse(users, s)[1]!
        : which === 'issue'
          ? tokenStorm(s, `p${s}`).issue
          : which === 'poll'
            ? tokenStorm(s).poll
            : which === 'charge'
              ? charge([], users, s, ledger)
              : { ...contention(users, 50, s, ledger).scenario, limit: { seconds: s } };
if (which !== 'pay') await runScenario(usher.url, make(2));
process.kill(usher.pid!, 'SIGUSR2');
const result = await runScenario(usher.url, make(seconds));
process.kill(usher.pid!, 'SIGUSR2');
for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
await usher.stop();
usher.cleanup();

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[] };
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const busy = profile.nodes
  .filter((node) => node.callFrame.functionName !== '(idle)')
  .reduce((sum, node) => sum + node.hitCount, 0);
const pct = (hits: number) => `${((hits / busy) * 100).toFixed(1).padStart(5)}%`;
const short = (url: string) =>
  url
    .replace(/^.*node_modules\/\.pnpm\/([^/]+)\/.*$/, '$1')
    .replace(/^.*\/(packages|bench)\//, '$1/');
const moduleOf = (node: Node) => {
  const { url, functionName } = node.callFrame;
  return (
    /node_modules\/\.pnpm\/([^/]+)\//.exec(url)?.[1]?.replace(/@\d.*$/, '') ??
    /\/(packages\/[^/]+\/(?:src|dist)\/.+)$/.exec(url)?.[1] ??
    (url.startsWith('node:')
      ? `node:${url.slice(5).split('/')[0]}`
      : url === ''
        ? `(${functionName || 'native'})`
        : url)
  );
};
const add = (map: Map<string, number>, key: string, hits: number) =>
  map.set(key, (map.get(key) ?? 0) + hits);
const byModule = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const node of profile.nodes) {
  if (node.callFrame.functionName === '(idle)') continue;
  add(byModule, moduleOf(node), node.hitCount);
  add(
    byFunction,
    `${node.callFrame.functionName || '(anonymous)'} ${short(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`,
    node.hitCount,
  );
}
// Inclusive time per function (each sample counted once per function even when it recurses).
const inclusive = new Map<string, number>();
const walk = (id: number, above: Set<string>): number => {
  const node = nodes.get(id)!;
  const key = `${node.callFrame.functionName || '(anonymous)'} ${short(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  const fresh = !above.has(key);
  if (fresh) above.add(key);
  let hits = node.callFrame.functionName === '(idle)' ? 0 : node.hitCount;
  for (const child of node.children ?? []) hits += walk(child, above);
  if (fresh) {
    above.delete(key);
    add(inclusive, key, hits);
  }
  return hits;
};
walk(profile.nodes[0]!.id, new Set());
const top = (map: Map<string, number>, n: number) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, hits]) => `${pct(hits)}  ${key}`)
    .join('\n');
process.stdout.write(
  `${result.name}: ${result.requestsPerSecond} req/s; ${busy} busy samples (idle left out)\n\nSelf time by module:\n${top(byModule, 30)}\n\nSelf time by function:\n${top(byFunction, 40)}\n\nInclusive time by function:\n${top(inclusive, 60)}\nprofile: ${file}\n`,
);
