/**
 * CPU time of a server process and the host's steal time, from /proc (Linux).
 * CPU per request is the figure that does not move when the host slows down:
 * a neighbour stealing cycles lowers req/s, not the work each request costs.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc times (USER_HZ: 100 on every Linux the bench runs on). */
const HZ = 100;

/** User + system CPU seconds of process `pid`, all its threads (fields 14 and 15 of /proc/<pid>/stat); undefined off Linux. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  const fields = pid === undefined ? undefined : statFields(pid);
  return fields === undefined ? undefined : (Number(fields[11]) + Number(fields[12])) / HZ;
}

/** Fields after the command name of /proc/<pid>/stat (0-based: state 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of process `pid` and its children: its own, its live children's, and what its children
 * that have ended used (cutime + cstime: a cluster worker that died and was replaced during a run still
 * counts). For a server of several processes: `WORKERS=N` (the primary and its workers), PostgreSQL
 * (the postmaster, its backends and background processes).
 */
export function processTreeCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const own = statFields(pid);
  if (own === undefined) return undefined;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields !== undefined && fields[1] === String(pid))
      ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / HZ;
}

export interface HostTicks {
  readonly steal: number;
  readonly total: number;
}

/** The host's CPU ticks, all cores: steal and the total (user … steal) of /proc/stat's first line. */
export function hostTicks(): HostTicks | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    return { steal: fields[7] ?? 0, total: fields.reduce((sum, value) => sum + value, 0) };
  } catch {
    return undefined;
  }
}

/** Steal as a percentage of all CPU time between two readings. */
export function stealPercent(
  before: HostTicks | undefined,
  after: HostTicks | undefined,
): number | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  return Math.round(((after.steal - before.steal) / (after.total - before.total)) * 1000) / 10;
}

/** min, median and max of a series (the median of an even count: the mean of the middle two). */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(values: readonly number[], digits = 2): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median =
    sorted.length === 0
      ? NaN
      : sorted.length % 2
        ? sorted[Math.floor(middle)]!
        : (sorted[middle - 1]! + sorted[middle]!) / 2;
  const round = (value: number) => Math.round(value * 10 ** digits) / 10 ** digits;
  return { median: round(median), min: round(sorted[0] ?? NaN), max: round(sorted.at(-1) ?? NaN) };
}

/** (max − min) / median: how far apart the repetitions were. */
export const relativeSpread = (s: Spread): number =>
  s.median > 0 ? (s.max - s.min) / s.median : 0;
