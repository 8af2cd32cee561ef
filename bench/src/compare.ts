/**
 * Several runs side by side: `node compare.js a.json b.json c.json` (files written by `pnpm bench`
 * as `results/latest.json`). For every row, req/s ÷ baseline and CPU µs/request ÷ baseline in each
 * run, and how far apart the runs are ((max − min) / median). Baseline rows compare absolute figures.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { relativeSpread, spread } from './http/cpu.js';
import type { BenchResults } from './report.js';

const files = process.argv.slice(2);
const runs = files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as BenchResults);
const names = [...new Set(runs.flatMap((run) => run.http.map((row) => row.name.replace(/poll, [\d,]+ streams open/, 'poll, streams open'))))];
const pct = (values: number[]) => (values.length < 2 ? '' : `${Math.round(relativeSpread(spread(values, 4)) * 100)}%`);
const lines = [
  `Runs: ${runs.map((run, i) => `(${i + 1}) ${run.mode} ${run.date}, baseline spread ${run.host?.baselineSpreadPercent ?? '?'}%, steal ${run.host?.stealPercent ?? '?'}%${files[i] ? ` [${basename(files[i]!)}]` : ''}`).join('; ')}.`,
  '',
  `| row | req/s × baseline: ${runs.map((_, i) => `(${i + 1})`).join(' / ')} | apart | CPU µs/req × baseline: ${runs.map((_, i) => `(${i + 1})`).join(' / ')} | apart | CPU within 10%, req/s further apart? |`,
  '|---|---:|---:|---:|---:|---|',
];
for (const name of names) {
  const rows = runs.map((run) => run.http.find((row) => row.name.replace(/poll, [\d,]+ streams open/, 'poll, streams open') === name));
  const baseline = name.startsWith('baseline');
  // Baselines: absolute req/s and CPU µs/request (their ratio is 1 by definition).
  const rate = rows.map((row) => (row ? (baseline ? row.requestsPerSecond : row.ratio?.median) : undefined));
  const cpu = rows.map((row) => (row ? (baseline ? row.cpuUsPerRequest : row.cpuRatio?.median) : undefined));
  const known = (values: (number | undefined)[]) => values.filter((value): value is number => value !== undefined);
  const show = (values: (number | undefined)[]) => values.map((value) => (value === undefined ? '–' : baseline ? value.toLocaleString('en') : value.toFixed(2))).join(' / ');
  const cpuApart = known(cpu).length > 1 ? relativeSpread(spread(known(cpu), 4)) : NaN;
  const rateApart = known(rate).length > 1 ? relativeSpread(spread(known(rate), 4)) : NaN;
  const verdict = Number.isNaN(cpuApart) ? '' : `${cpuApart <= 0.1 ? 'yes' : 'no'}, ${rateApart > cpuApart ? 'yes' : 'no'}`;
  lines.push(`| ${name}${baseline ? ' (absolute: req/s, µs)' : ''} | ${show(rate)} | ${pct(known(rate))} | ${show(cpu)} | ${pct(known(cpu))} | ${verdict} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
