/**
 * Several runs side by side: `node compare.js a.json b.json c.json` (files written by `pnpm bench`
 * as `results/latest.json`). For every row, req/s ÷ baseline, CPU µs/request ÷ baseline and
 * instructions/request ÷ baseline in each run, and how far apart the runs are ((max − min) / median).
 * Baseline rows compare absolute figures.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { relativeSpread, spread } from './http/cpu.js';
import { rowKey, type BenchResults } from './report.js';

const files = process.argv.slice(2);
const runs = files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as BenchResults);
const names = [...new Set(runs.flatMap((run) => run.http.map((row) => rowKey(row.name))))];
const known = (values: (number | undefined)[]) =>
  values.filter((value): value is number => value !== undefined);
const apart = (values: (number | undefined)[]) =>
  known(values).length > 1 ? relativeSpread(spread(known(values), 4)) : NaN;
const pct = (value: number) => (Number.isNaN(value) ? '' : `${Math.round(value * 100)}%`);
const columns = runs.map((_, i) => `(${i + 1})`).join(' / ');
const lines = [
  `Runs: ${runs.map((run, i) => `(${i + 1}) ${run.mode} ${run.date}, baseline spread ${run.host?.baselineSpreadPercent ?? '?'}%, steal ${run.host?.stealPercent ?? '?'}%${files[i] ? ` [${basename(files[i]!)}]` : ''}`).join('; ')}.`,
  '',
  `| row | req/s × baseline: ${columns} | apart | CPU µs/req × baseline: ${columns} | apart | instructions/req × baseline: ${columns} | apart | instructions within 10%, req/s further apart? |`,
  '|---|---:|---:|---:|---:|---:|---:|---|',
];
for (const name of names) {
  const rows = runs.map((run) => run.http.find((row) => rowKey(row.name) === name));
  const baseline = name.startsWith('baseline');
  // Baselines: absolute req/s, CPU µs and instructions per request (their ratio is 1 by definition).
  const rate = rows.map((row) =>
    row ? (baseline ? row.requestsPerSecond : row.ratio?.median) : undefined,
  );
  const cpu = rows.map((row) =>
    row ? (baseline ? row.cpuUsPerRequest : row.cpuRatio?.median) : undefined,
  );
  const counted = rows.map((row) =>
    row ? (baseline ? row.instructions?.perRequest : row.instructionRatio) : undefined,
  );
  const show = (values: (number | undefined)[], absolute: (value: number) => string) =>
    values
      .map((value) => (value === undefined ? '–' : baseline ? absolute(value) : value.toFixed(2)))
      .join(' / ');
  const countedApart = apart(counted);
  const rateApart = apart(rate);
  const verdict = Number.isNaN(countedApart)
    ? ''
    : `${countedApart <= 0.1 ? 'yes' : 'no'}, ${rateApart > countedApart ? 'yes' : 'no'}`;
  lines.push(
    `| ${name}${baseline ? ' (absolute: req/s, µs, instructions)' : ''} | ${show(rate, (value) => value.toLocaleString('en'))} | ${pct(rateApart)} | ${show(cpu, (value) => String(value))} | ${pct(apart(cpu))} | ${show(counted, (value) => `${Math.round(value / 1e3)} k`)} | ${pct(countedApart)} | ${verdict} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
