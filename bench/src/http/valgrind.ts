/**
 * Instructions a server process executes, counted by valgrind's callgrind: the
 * per-request figure the host cannot inflate. A slow or shared CPU makes each
 * instruction take longer; it does not change how many the server runs.
 *
 * The server starts under callgrind with instrumentation off (it runs its
 * start-up and warm-up ~5–10 × slower than natively, not ~50–100 ×);
 * `callgrind_control -i on` / `-d` around a measured window count only the
 * instructions of that window, all threads of the process (the main thread,
 * libuv's thread pool). User space only: the kernel's work for a request
 * (socket reads and writes, fsync) is not counted.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** valgrind's version (`valgrind-3.19.0`) when it and `callgrind_control` run here; undefined otherwise. */
export function valgrindVersion(): string | undefined {
  const version = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  const control = spawnSync('callgrind_control', ['--version'], { encoding: 'utf8' });
  return version.status === 0 && control.status === 0 ? version.stdout.trim() : undefined;
}

/**
 * The command prefix that starts node under callgrind, instrumentation off, dumps in `dir`.
 * `--smc-check=all-non-file`: V8 writes and rewrites machine code in anonymous memory (its JIT);
 * valgrind must notice, or it runs stale translations.
 */
export const callgrind = (dir: string): string[] => [
  'valgrind',
  '--quiet',
  '--tool=callgrind',
  '--smc-check=all-non-file',
  '--instr-atstart=no',
  `--callgrind-out-file=${join(dir, 'callgrind.%p')}`,
];

/**
 * Node's flags for a server counted by callgrind, so that the same requests cost the same instructions
 * whatever the host's timing:
 * - `--single-threaded`: V8 compiles and collects garbage on the main thread, not on helper threads
 *   (when a helper ran no longer decides when code is optimized); all that work is still counted.
 * - `--no-memory-reducer`, `--initial-old-space-size=2048`: no full garbage collection during the pass (the
 *   memory reducer starts them on a timer; a full collection of the usher server's heap costs as much as
 *   hundreds of requests, and would land in one window or another).
 * - `--min-semi-space-size=16 --max-semi-space-size=16`: the young generation's size fixed at the size a
 *   busy server grows it to. V8 sizes it by the allocation rate per millisecond, and a server under valgrind on
 *   a loaded host allocates slowly: it would shrink, and collect (and count) twice as often. Young-generation
 *   collections, every few hundred requests, are counted.
 * - `--interrupt-budget=8000` (default 67,584 bytes of bytecode run): the JIT optimizes a function after ~8 ×
 *   fewer runs, so that a few thousand requests of warm-up reach the code a timed run spends its time in.
 * - `--hash-seed=1`, `--random-seed=1`: the same hash tables and `Math.random()` in every run.
 */
export const COUNTED_NODE_FLAGS = [
  '--single-threaded',
  '--no-memory-reducer',
  '--max-old-space-size=4096',
  '--initial-old-space-size=2048',
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
  '--interrupt-budget=8000',
  '--hash-seed=1',
  '--random-seed=1',
];

/**
 * The JIT's compilers, entered from running JavaScript through these runtime functions: V8 compiling a
 * function the first time it runs (lazily), its baseline code, its optimized code (TurboFan, on-stack
 * replacement). Their instructions are a warm-up cost, not a request's: they are reported apart.
 */
export const JIT_COMPILERS =
  /^v8::internal::(Runtime_Compile|Runtime_InstallBaselineCode|baseline::BaselineBatchCompiler::)/;

export interface CallgrindCount {
  /** Every instruction of the window (the dump's `totals:`). */
  readonly total: number;
  /** Of those, the instructions spent in calls to `excluded` functions (callees included), from outside them. */
  readonly excluded: number;
}

/**
 * Reads a callgrind dump (format: valgrind.org/docs/manual/cl-format.html): its total instructions (`Ir`,
 * the first event), and the inclusive cost of every call into a function whose name matches `excluded`,
 * from a function that does not match (so that nested calls are not counted twice).
 */
export function callgrindCount(dump: string, excluded: RegExp = JIT_COMPILERS): CallgrindCount {
  const events = /^events:\s+(\S+)/m.exec(dump)?.[1];
  if (events !== undefined && events !== 'Ir')
    throw new Error(`callgrind dump counts ${events} first, not Ir`);
  const totals = /^totals:\s+(\d+)/m.exec(dump) ?? /^summary:\s+(\d+)/m.exec(dump);
  if (!totals) throw new Error('not a callgrind dump: no totals or summary line');
  // Names are compressed: `fn=(12) name` the first time, `fn=(12)` after; fn and cfn share the table.
  const names = new Map<string, string>();
  const name = (spec: string) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!match) return spec;
    if (match[2] !== undefined) names.set(match[1]!, match[2]);
    return names.get(match[1]!) ?? '';
  };
  let caller = '';
  let callee = '';
  let call = false;
  let excludedCost = 0;
  for (const line of dump.split('\n')) {
    if (call) {
      // The line after `calls=`: the call's position, then its inclusive cost.
      call = false;
      if (excluded.test(callee) && !excluded.test(caller))
        excludedCost += Number(line.trim().split(/\s+/)[1] ?? 0);
    } else if (line.startsWith('fn=')) caller = name(line.slice(3));
    else if (line.startsWith('cfn=')) callee = name(line.slice(4));
    else if (line.startsWith('calls=')) call = true;
  }
  return { total: Number(totals[1]), excluded: excludedCost };
}

/**
 * Counts the instructions of process `pid` (started with {@link callgrind}`(dir)`):
 * `on()`, then any number of `zero()` … `dump()` windows, then `off()`.
 */
export class InstructionCounter {
  private dumps = 0;

  /** `host`: the process's `HOST` variable. valgrind names the pipes it listens on after it, and `callgrind_control` looks for them under its own. */
  constructor(
    private readonly pid: number,
    private readonly dir: string,
    private readonly host: string | undefined,
    /** Leave each dump in `dir` (for `callgrind_annotate`). */
    private readonly keep = false,
  ) {}

  /** Instrumentation on (valgrind translates the code again, with counting: the next requests are slow). */
  async on(): Promise<void> {
    await this.control('-i', 'on');
  }

  /** Counters to zero: a window starts. */
  async zero(): Promise<void> {
    await this.control('-z');
  }

  /** The count since {@link zero}: the instructions, and those of the JIT's compilers. */
  async dump(): Promise<CallgrindCount> {
    const tag = `window-${++this.dumps}`;
    await this.control('-d', tag);
    // Dumps are `callgrind.<pid>.<n>`, n counting up from 1; the newest is this window's.
    const prefix = `callgrind.${this.pid}.`;
    const newest = readdirSync(this.dir)
      .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
      .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)))[0];
    if (!newest) throw new Error(`callgrind wrote no dump for ${this.pid} in ${this.dir}`);
    const dump = readFileSync(join(this.dir, newest), 'utf8');
    if (!dump.includes(`Trigger: dump ${tag}`))
      throw new Error(`${newest} is not the dump of ${tag}`);
    if (!this.keep) rmSync(join(this.dir, newest));
    return callgrindCount(dump);
  }

  async off(): Promise<void> {
    await this.control('-i', 'off');
  }

  /** callgrind_control exits 0 even when it found no such process: its `OK.` says it worked. */
  private async control(...args: string[]): Promise<void> {
    const env = { ...process.env };
    if (this.host === undefined) delete env.HOST;
    else env.HOST = this.host;
    const { stdout } = await run('callgrind_control', [...args, String(this.pid)], {
      timeout: 60_000,
      env,
    });
    if (!/^\s*OK\.$/m.test(stdout))
      throw new Error(`callgrind_control ${args.join(' ')} ${this.pid}: ${stdout.trim()}`);
  }
}
