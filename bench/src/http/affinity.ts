/**
 * CPU affinity of the bench's processes (Linux, `taskset`). A process's mask is inherited across
 * fork and exec: a harness pinned to one core gives that one core to every server, worker and
 * database it starts afterwards, unless it says otherwise. So every process a row runs is given
 * the cores the row says, explicitly, and each one's mask is read back (`taskset -p`) and printed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** Every core of the machine, as a `taskset -c` list: `0-1` on two cores. */
export const ALL_CORES = `0-${Math.max(1, availableParallelism()) - 1}`;

let present: boolean | undefined;
/** Whether `taskset` runs here. */
export function hasTaskset(): boolean {
  present ??= spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
  return present;
}

/** `0-1` → `[0, 1]`, `0,2-3` → `[0, 2, 3]`. */
export function cpuList(list: string): number[] {
  return list
    .trim()
    .split(',')
    .flatMap((part) => {
      const [from, to] = part.split('-').map(Number);
      const cpus: number[] = [];
      for (let cpu = from!; cpu <= (to ?? from)!; cpu++) cpus.push(cpu);
      return cpus;
    });
}

/** Gives process `pid` (all its threads) the cores `cores` (a `taskset -c` list); false when it could not. */
export function setAffinity(pid: number, cores: string): boolean {
  return (
    spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' }).status === 0
  );
}

/** The cores process `pid` may run on (`taskset -c -p`), as a list, e.g. `0,1`; undefined when it is gone or there is no taskset. */
export function affinityOf(pid: number): string | undefined {
  const out = spawnSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' });
  if (out.status !== 0) return undefined;
  const list = /list:\s*(\S+)/.exec(out.stdout)?.[1];
  return list === undefined ? undefined : cpuList(list).join(',');
}

/** The live children of `pid` (from /proc; Linux). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(pid))
        children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** PostgreSQL's processes: its postmaster (from `postmaster.pid` in its data folder) and every process it forked. */
export function postgresPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return [postmaster, ...childrenOf(postmaster)];
}

/**
 * Gives PostgreSQL's processes `cores`: the postmaster (the backends it forks later inherit its mask)
 * and those already running.
 */
export function setPostgresAffinity(dataDir: string, cores: string): void {
  for (const pid of postgresPids(dataDir)) setAffinity(pid, cores);
}

export interface ProcessAffinity {
  readonly role: string;
  readonly pid: number;
  /** Its cores as `taskset -c -p` says, e.g. `0,1`. */
  readonly cores: string;
}

/**
 * Each process's cores, read back; throws when one runs on other cores than `cores` (one that
 * inherited a narrower mask, say), naming it. Processes gone meanwhile are left out.
 */
export function checkAffinity(
  processes: readonly { role: string; pid: number }[],
  cores: string,
): ProcessAffinity[] {
  const expected = cpuList(cores).join(',');
  const read = processes.flatMap(({ role, pid }) => {
    const got = affinityOf(pid);
    return got === undefined ? [] : [{ role, pid, cores: got }];
  });
  const wrong = read.filter((process) => process.cores !== expected);
  if (wrong.length > 0)
    throw new Error(
      `processes on other cores than ${expected}: ${wrong.map((p) => `${p.role} ${p.pid} on ${p.cores}`).join(', ')}`,
    );
  return read;
}

/** `load 1234 on 0,1; server 1240 on 0,1; …`, for the output. */
export const describeAffinity = (processes: readonly ProcessAffinity[]): string =>
  processes.map((p) => `${p.role} ${p.pid} on ${p.cores}`).join('; ');
