/**
 * Orders in-process (issue 22): best-available pairs on a 100,000-seat date and
 * 10,000 users racing for pairs on 1,000 seats, beside the one-seat hold they
 * are measured against, through the engine's public API (its durability
 * barrier included). Per row: commands/s and p50/p99 with 1,000 in flight, CPU
 * µs per command, and (`BENCH_INSTRUCTIONS=1`, valgrind) instructions per
 * command, counted one command at a time (this process only: on PostgreSQL the database's own
 * work is not in the count, its CPU µs are).
 *
 * `node bench/dist/engine/orders.js [engine] [commands]`, `engine` one of
 * `memory` (default), `lowdb`, `postgres` (a PostgreSQL of its own, or a new
 * database on `DATABASE_URL`; needs a PostgreSQL engine that takes the
 * `quantity` body). Prints one JSON line on stdout, a table on stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createEngine,
  EngineError,
  type CatalogInput,
  type Reservation,
  type ReserveRequest,
  type UsherEngine,
} from '@usher/engine';
import {
  callgrind,
  COUNTED_NODE_FLAGS,
  InstructionCounter,
  valgrindVersion,
} from '../http/valgrind.js';
import { cpuSeconds, openDatabase, postgresCpuSeconds } from './postgres.js';
import { openStore, type StoreKind } from './stores.js';

export type OrdersEngineKind = 'memory' | 'lowdb' | 'postgres';

const [kindArg = 'memory', countArg = '10000'] = process.argv.slice(2);
const kind = kindArg as OrdersEngineKind;
/** Commands per timed row (holds, pairs): their seats must fit the 100,000 with room to spare. */
const count = Number(countArg);
const CONCURRENCY = 1_000;
const BIG = 100_000;
const RACE_SEATS = 1_000;
const RACERS = 10_000;
/** Rows of 100 seats; VIP the first 10 rows, R the next 40, S the rest. */
const ROW = 100;
const counting = process.env.BENCH_INSTRUCTIONS === '1';
/** Under callgrind (the parent of this run started it so): the directory its dumps go to. */
const countedDir = process.env.BENCH_COUNTED_DIR;
const WARM_UP = 2_000;
const WINDOW = 300;
const WINDOWS = 5;
/** A user per command: the timed rows', the race's, and the counted pass's (its warm-up and four rows). */
const USERS = RACERS + 3 * count + 2 * WARM_UP + 4 * WINDOWS * WINDOW;

const tiers = (total: number) => [
  { from: 1, to: total / 10, price: 3_000, name: 'VIP' },
  { from: total / 10 + 1, to: total / 2, price: 2_000, name: 'R' },
  { from: total / 2 + 1, to: total, price: 1_000, name: 'S' },
];

/** A date of `total` seats in rows of {@link ROW}, tiers VIP / R / S. */
const date = (id: string, total: number, day: number) => ({
  id,
  concertId: 'orders',
  startsAt: `2027-08-${String(day).padStart(2, '0')}T19:00:00Z`,
  totalSeats: total,
  prices: tiers(total),
  seatsPerRow: ROW,
});

/** Every date of the rows; a one-seat hold and a pair are measured on dates of the same shape and size. */
export const ordersCatalog: CatalogInput = {
  concerts: [{ id: 'orders', title: 'Orders bench' }],
  schedules: [
    date('hold-100000', BIG, 1),
    date('pairs-100000', BIG, 2),
    date('pairs-R-100000', BIG, 3),
    date('race-1000', RACE_SEATS, 4),
    // Warm-up dates (the JIT compiles what the rows run; their seats are not the rows').
    date('warm-hold', BIG, 5),
    date('warm-pairs', BIG, 6),
  ],
};

interface Row {
  readonly name: string;
  readonly commands: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerCommand: { node: number; postgres?: number };
  readonly answers: Record<string, number>;
  instructionsPerCommand?: number;
  instructionWindows?: number[];
  ratio?: number;
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 100) / 100;
const answerOf = (error: unknown) =>
  error instanceof EngineError ? `refused ${error.code}` : `failed ${String(error)}`;

async function openEngine(): Promise<{
  engine: UsherEngine;
  dataDir?: string | undefined;
  close(): Promise<void>;
}> {
  const config = {
    queueMaxActive: USERS,
    queueTickMs: 86_400_000,
    holdSweepMs: 86_400_000,
    holdTtlMs: 86_400_000,
    tokenActiveTtlMs: 86_400_000,
    maxHoldsPerUser: 4,
    maxTicketsPerUser: 4,
  };
  if (kind === 'postgres') {
    const { createPostgresEngine } = await import('@usher/postgres');
    const database = await openDatabase();
    const engine = await createPostgresEngine({
      connectionString: database.connectionString,
      config,
    });
    return {
      engine,
      dataDir: database.dataDir,
      close: async () => {
        await engine.close();
        await database.remove();
      },
    };
  }
  const opened = openStore(kind as StoreKind);
  const engine = await createEngine({ store: opened.store, config });
  return {
    engine,
    close: async () => {
      await engine.close();
      opened.cleanup();
    },
  };
}

/** Runs `run(0 … n-1)` with `inFlight` at a time: answers by kind, rate, latencies, CPU per command. */
async function timed(
  name: string,
  n: number,
  run: (i: number) => Promise<Reservation>,
  dataDir: string | undefined,
  inFlight = CONCURRENCY,
): Promise<Row & { results: (Reservation | undefined)[] }> {
  const results: (Reservation | undefined)[] = new Array(n);
  const answers: Record<string, number> = {};
  const latencies = new Float64Array(n);
  let next = 0;
  const cpuBefore = cpuSeconds();
  const pgBefore = postgresCpuSeconds(dataDir);
  const started = performance.now();
  const lane = async () => {
    while (next < n) {
      const i = next++;
      const begun = performance.now();
      let answer = 'ok';
      try {
        results[i] = await run(i);
      } catch (error) {
        answer = answerOf(error);
      }
      latencies[i] = performance.now() - begun;
      answers[answer] = (answers[answer] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
  const seconds = (performance.now() - started) / 1000;
  const pgAfter = postgresCpuSeconds(dataDir);
  const perCommand = (cpu: number) => Math.round((cpu / n) * 1e6);
  latencies.sort();
  return {
    name,
    commands: n,
    opsPerSecond: Math.round(n / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    cpuUsPerCommand: {
      node: perCommand(cpuSeconds() - cpuBefore),
      ...(pgBefore === undefined || pgAfter === undefined
        ? {}
        : { postgres: perCommand(pgAfter - pgBefore) }),
    },
    answers,
    results,
  };
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`orders bench: ${message}`);
}

/** Every seat in at most one reservation, every pair two consecutive seats of one row. */
function checkPairs(name: string, reservations: readonly Reservation[], perRow: number): number {
  const taken = new Set<number>();
  for (const reservation of reservations) {
    const seats = reservation.seats.map((seat) => seat.seatNo);
    check(seats.length === 2, `${name}: a reservation of ${seats.length} seats`);
    const [a, b] = seats as [number, number];
    check(
      b === a + 1 && Math.ceil(a / perRow) === Math.ceil(b / perRow),
      `${name}: a split pair ${a}, ${b}`,
    );
    for (const seat of seats) {
      check(!taken.has(seat), `${name}: seat ${seat} in two reservations`);
      taken.add(seat);
    }
  }
  return taken.size;
}

const hold = (i: number): ReserveRequest => ({
  scheduleId: 'hold-100000',
  // Scattered over the date, each seat once.
  seatNo: ((i * 7_919) % BIG) + 1,
});
const pair = (scheduleId: string, category?: string): ReserveRequest => ({
  scheduleId,
  quantity: 2,
  together: true,
  ...(category === undefined ? {} : { category }),
});

async function main(): Promise<void> {
  const { engine, dataDir, close } = await openEngine();
  try {
    await engine.loadCatalog(ordersCatalog);
    // Tokens: one user per command of each row (the per-user limits are the default 4 seats a date).
    const users = USERS;
    const issued = await timed(
      'issue',
      users,
      async (i) => {
        const { token } = await engine.issueToken(`orders-${i}`);
        tokens[i] = token.token;
        return undefined as unknown as Reservation;
      },
      dataDir,
    );
    check(
      issued.answers['ok'] === users,
      `issuing ${users} tokens: ${JSON.stringify(issued.answers)}`,
    );
    let user = 0;
    const next = (n: number) => {
      const first = user;
      user += n;
      return (i: number) => tokens[first + i]!;
    };
    const rows: Row[] = [];
    const keep = ({ results: _, ...row }: Row & { results: unknown }) => (rows.push(row), row);

    const holdOf = next(count);
    const holds = keep(
      await timed(
        `hold: one seat (seatNo) of ${BIG.toLocaleString('en')}`,
        count,
        (i) => engine.reserve(holdOf(i), hold(i)),
        dataDir,
      ),
    );
    check(holds.answers['ok'] === count, `${holds.name}: ${JSON.stringify(holds.answers)}`);
    for (const [scheduleId, category] of [
      ['pairs-100000', undefined],
      ['pairs-R-100000', 'R'],
    ] as const) {
      const of = next(count);
      const row = await timed(
        `best available: pairs${category ? ` of category ${category}` : ''} of ${BIG.toLocaleString('en')} seats`,
        count,
        (i) => engine.reserve(of(i), pair(scheduleId, category)),
        dataDir,
      );
      check(row.answers['ok'] === count, `${row.name}: ${JSON.stringify(row.answers)}`);
      checkPairs(row.name, row.results as Reservation[], ROW);
      if (category)
        check(
          row.results.every((r) => r!.seats.every((seat) => seat.category === category)),
          `${row.name}: a seat not of ${category}`,
        );
      keep(row);
    }
    // The race: every racer asks once, all at once.
    const racerOf = next(RACERS);
    const race = await timed(
      `best available: ${RACERS.toLocaleString('en')} users racing for pairs on ${RACE_SEATS.toLocaleString('en')} seats`,
      RACERS,
      (i) => engine.reserve(racerOf(i), pair('race-1000')),
      dataDir,
      RACERS,
    );
    const won = race.results.filter((r): r is Reservation => r !== undefined);
    check(
      won.length === RACE_SEATS / 2 &&
        race.answers['refused SEATS_UNAVAILABLE'] === RACERS - RACE_SEATS / 2,
      `${race.name}: ${JSON.stringify(race.answers)}`,
    );
    check(checkPairs(race.name, won, ROW) === RACE_SEATS, `${race.name}: seats sold`);
    const left = await engine.listSeats(tokens[0]!, 'race-1000');
    check(left.seats.length === 0, `${race.name}: ${left.seats.length} seats left on sale`);
    keep(race);

    if (countedDir) await countInstructions(engine, rows, next);
    const base = rows[0]!;
    for (const row of rows.slice(1))
      if (row.instructionsPerCommand !== undefined && base.instructionsPerCommand)
        row.ratio =
          Math.round((row.instructionsPerCommand / base.instructionsPerCommand) * 100) / 100;
    process.stdout.write(`${JSON.stringify({ engine: kind, commands: count, rows })}\n`);
    const figure = (n: number | undefined) => (n === undefined ? '' : `${Math.round(n / 1000)} k`);
    process.stderr.write(
      [
        `In-process, ${kind} engine, ${count.toLocaleString('en')} commands a row, ${CONCURRENCY} in flight:`,
        '',
        '| row | commands/s | p50 / p99 ms | CPU µs/command | instructions/command (windows) | × one-seat hold | answers |',
        '|---|---:|---:|---:|---:|---:|---|',
        ...rows.map(
          (row) =>
            `| ${row.name} | ${row.opsPerSecond.toLocaleString('en')} | ${row.p50Ms} / ${row.p99Ms} | ${row.cpuUsPerCommand.node}${row.cpuUsPerCommand.postgres === undefined ? '' : ` + ${row.cpuUsPerCommand.postgres}`} | ${figure(row.instructionsPerCommand)}${row.instructionWindows ? ` (${row.instructionWindows.map(figure).join(', ')})` : ''} | ${row.ratio?.toFixed(2) ?? (row === base ? '1.00' : '')} | ${Object.entries(
              row.answers,
            )
              .map(([key, n]) => `${key}: ${n}`)
              .join(', ')} |`,
        ),
        '',
      ].join('\n'),
    );
  } finally {
    await close();
  }
}

const tokens: string[] = [];

/**
 * Under callgrind (see the end of this file): per row, {@link WARM_UP} uncounted commands on a
 * warm-up date, then {@link WINDOWS} windows of {@link WINDOW} commands, one in flight, each
 * counted alone. The rows alternate window by window, so that what the JIT does over time
 * lands on all of them alike. The race is counted after it is over (refusals, as in the HTTP
 * contention rows).
 */
async function countInstructions(
  engine: UsherEngine,
  rows: Row[],
  next: (n: number) => (i: number) => string,
): Promise<void> {
  const counter = new InstructionCounter(process.pid, countedDir!, process.env.HOST);
  const warmHold = next(WARM_UP);
  const warmPair = next(WARM_UP);
  const sequential = async (n: number, run: (i: number) => Promise<unknown>) => {
    for (let i = 0; i < n; i++) await run(i).catch(() => undefined);
  };
  await sequential(WARM_UP, (i) =>
    engine.reserve(warmHold(i), { scheduleId: 'warm-hold', seatNo: ((i * 7_919) % BIG) + 1 }),
  );
  // Pairs of any category and of R alike (the first ones in VIP, the others in R).
  await sequential(WARM_UP, (i) =>
    engine.reserve(warmPair(i), pair('warm-pairs', i % 2 === 0 ? undefined : 'R')),
  );
  // Users again: the rows' own were used once each by their timed run; these have no hold yet.
  const holdOf = next(WINDOWS * WINDOW);
  const pairOf = next(WINDOWS * WINDOW);
  const pairROf = next(WINDOWS * WINDOW);
  const racerOf = next(WINDOWS * WINDOW);
  const work: ((i: number) => Promise<unknown>)[] = [
    (i) => engine.reserve(holdOf(i), hold(count + i)),
    (i) => engine.reserve(pairOf(i), pair('pairs-100000')),
    (i) => engine.reserve(pairROf(i), pair('pairs-R-100000', 'R')),
    (i) => engine.reserve(racerOf(i), pair('race-1000')),
  ];
  const windows: number[][] = work.map(() => []);
  await counter.on();
  for (let w = 0; w < WINDOWS; w++)
    for (const [k, run] of work.entries()) {
      await counter.zero();
      await sequential(WINDOW, (i) => run(w * WINDOW + i));
      const dump = await counter.dump();
      windows[k]!.push(Math.round((dump.total - dump.excluded) / WINDOW));
    }
  await counter.off();
  for (const [k, row] of rows.entries()) {
    const counted = windows[k]!;
    row.instructionWindows = counted;
    // The median window: a window the JIT or a collection of the young generation fell in stands out.
    row.instructionsPerCommand = [...counted].sort((a, b) => a - b)[
      Math.floor(counted.length / 2)
    ]!;
  }
}

/** Runs this file again under callgrind (instrumentation off until the counted windows). */
async function underCallgrind(): Promise<void> {
  const version = valgrindVersion();
  if (!version) throw new Error('BENCH_INSTRUCTIONS=1 needs valgrind and callgrind_control');
  const dir = mkdtempSync(join(tmpdir(), 'usher-orders-callgrind-'));
  try {
    const child = spawn(
      callgrind(dir)[0]!,
      [
        ...callgrind(dir).slice(1),
        process.execPath,
        ...COUNTED_NODE_FLAGS,
        fileURLToPath(import.meta.url),
        ...process.argv.slice(2),
      ],
      { stdio: 'inherit', env: { ...process.env, BENCH_COUNTED_DIR: dir, HOST: 'orders-bench' } },
    );
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`the counted run exited with ${code}`);
    process.stderr.write(`(${version})\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (counting && !countedDir) await underCallgrind();
  else await main();
}
