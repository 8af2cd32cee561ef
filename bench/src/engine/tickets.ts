/**
 * Tickets in-process (issue 23, SPEC §11): what signing a ticket's code costs, and refunds and
 * check-ins through the engine's public API (its durability barrier included).
 *
 * - Signing: `ticketCode` and `verifyTicketCode` (`@usher/engine/signing`, EdDSA via jose), one at
 *   a time, after a warm-up: CPU µs per code signed and verified.
 * - Listing: `listTickets` of every holder, then the same with every ticket's code computed, as
 *   `GET /tickets` answers them (codes are computed at read): CPU µs per ticket listed.
 * - Refunds: each holder refunds one ticket of theirs with an `Idempotency-Key`, each a
 *   distinct ticket, 1,000 in flight. Check-ins: the door's work, `verifyTicketCode` then
 *   `checkIn`, for each holder's other ticket; then every checked-in code scanned again (all
 *   `ALREADY_CHECKED_IN`) and every refunded one (all `TICKET_VOID`). Per row: commands/s,
 *   p50/p99 and CPU µs per command (this process, and PostgreSQL's processes when the server is
 *   ours).
 * - After: the SPEC §5 and §11 invariants (`invariantViolations`) on what the engine durably
 *   holds, every refunded seat on sale again, each wallet refunded its ticket's price. Any
 *   failure exits non-zero.
 *
 * `node bench/dist/engine/tickets.js [engine] [holders] [codes]`, `engine` one of `memory` (default),
 * `lowdb` (fsync on), `postgres` (a PostgreSQL of its own, or a new database on `DATABASE_URL`);
 * `holders` paid reservations of two seats each (default 2,000: 4,000 tickets). Prints one JSON
 * line on stdout, a table on stderr. `codes`: how many codes the signing figures sign and verify
 * (default 20,000).
 */
import { fileURLToPath } from 'node:url';
import {
  createEngine,
  EngineError,
  invariantViolations,
  type CatalogInput,
  type StoreContents,
  type Ticket,
  type UsherEngine,
} from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { SigningKeys, ticketCode, verifyTicketCode, withCode } from '@usher/engine/signing';
import { cpuSeconds, openDatabase, postgresCpuSeconds } from './postgres.js';
import { openStore, type StoreKind } from './stores.js';

export type TicketsEngineKind = 'memory' | 'lowdb' | 'postgres';

const CONCURRENCY = 1_000;
const PRICE = 1_000;
const SIGNING_WARM_UP = 2_000;
const SIGNING_COUNT = 20_000;
const SCHEDULE = 'tickets';

export interface TicketRow {
  readonly name: string;
  readonly commands: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerCommand: { node: number; postgres?: number };
  readonly answers: Record<string, number>;
}

export interface SigningFigures {
  readonly codes: number;
  /** CPU µs (user + system of this process) per code, one at a time. */
  readonly signUs: number;
  readonly verifyUs: number;
  /** Characters of a code. */
  readonly codeLength: number;
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (n: number, places = 2) => Math.round(n * 10 ** places) / 10 ** places;
const answerOf = (error: unknown) =>
  error instanceof EngineError ? `refused ${error.code}` : `failed ${String(error)}`;

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`tickets bench: ${message}`);
}

/** `ticketCode` and `verifyTicketCode`, one at a time: CPU µs per code. */
export async function measureSigning(count = SIGNING_COUNT): Promise<SigningFigures> {
  const keys = await SigningKeys.open({ uses: ['ticket'] });
  const ticket = (i: number) => ({
    id: `ticket-${i}`,
    scheduleId: 'sched-2027-08-01',
    seatNo: (i % 100_000) + 1,
    holder: `user-${i}`,
  });
  const codes: string[] = new Array(count);
  for (let i = 0; i < SIGNING_WARM_UP; i++)
    await verifyTicketCode(keys, await ticketCode(keys, ticket(count + i)));
  let before = cpuSeconds();
  for (let i = 0; i < count; i++) codes[i] = await ticketCode(keys, ticket(i));
  const signUs = ((cpuSeconds() - before) / count) * 1e6;
  before = cpuSeconds();
  for (let i = 0; i < count; i++) {
    const claims = await verifyTicketCode(keys, codes[i]);
    if (claims?.tid !== `ticket-${i}`) throw new Error(`tickets bench: code ${i} does not verify`);
  }
  const verifyUs = ((cpuSeconds() - before) / count) * 1e6;
  return {
    codes: count,
    signUs: round(signUs, 1),
    verifyUs: round(verifyUs, 1),
    codeLength: codes[0]!.length,
  };
}

async function openEngine(
  kind: TicketsEngineKind,
  holders: number,
): Promise<{
  engine: UsherEngine;
  dataDir?: string | undefined;
  contents(): Promise<StoreContents>;
  close(): Promise<void>;
}> {
  const config = {
    queueMaxActive: holders + 10,
    queueTickMs: 86_400_000,
    holdSweepMs: 86_400_000,
    holdTtlMs: 86_400_000,
    tokenActiveTtlMs: 86_400_000,
  };
  if (kind === 'postgres') {
    const { createPostgresEngine, readContents } = await import('@usher/postgres');
    const database = await openDatabase();
    const engine = await createPostgresEngine({
      connectionString: database.connectionString,
      config,
    });
    return {
      engine,
      dataDir: database.dataDir,
      contents: () => readContents(database.connectionString),
      close: async () => {
        await engine.close();
        await database.remove();
      },
    };
  }
  const opened = openStore(kind as StoreKind);
  const engine = await createEngine({ store: opened.store, config });
  let closed = false;
  return {
    engine,
    // The lowdb folder as a restart would read it (after the engine's graceful close); memory: its copy.
    contents: async () => {
      if (opened.dir === undefined) return (await opened.store.load())!;
      await engine.close();
      closed = true;
      const store = new LowdbStore(opened.dir);
      try {
        return (await store.load())!;
      } finally {
        await store.close();
      }
    },
    close: async () => {
      if (!closed) await engine.close();
      opened.cleanup();
    },
  };
}

/** Runs `run(0 … n-1)` with {@link CONCURRENCY} in flight: answers by kind, rate, latencies, CPU per command. */
async function timed<T>(
  name: string,
  n: number,
  run: (i: number) => Promise<T>,
  dataDir: string | undefined,
): Promise<TicketRow & { results: (T | undefined)[] }> {
  const results: (T | undefined)[] = new Array(n);
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
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, lane));
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

/** Every holder's paid reservation of two seats: `2 × holders` seats, all sold. */
const catalog = (holders: number): CatalogInput => ({
  concerts: [{ id: 'tickets', title: 'Tickets bench' }],
  schedules: [
    {
      id: SCHEDULE,
      concertId: 'tickets',
      // More than the refund cutoff (a day) ahead: holders may refund.
      startsAt: '2027-08-01T19:00:00Z',
      totalSeats: 2 * holders,
      price: PRICE,
    },
  ],
});

export type TicketsResult = Awaited<ReturnType<typeof runTickets>>;

export async function runTickets(
  kind: TicketsEngineKind,
  holders: number,
  codes = SIGNING_COUNT,
): Promise<{
  engine: TicketsEngineKind;
  holders: number;
  signing: SigningFigures;
  rows: TicketRow[];
  invariants: string;
}> {
  const signing = await measureSigning(codes);
  const { engine, dataDir, contents, close } = await openEngine(kind, holders);
  const keys = await SigningKeys.open({ uses: ['ticket'] });
  const rows: TicketRow[] = [];
  const keep = <T>(row: TicketRow & { results: T }, expected: Record<string, number>) => {
    const { results, ...kept } = row;
    check(
      JSON.stringify(Object.entries(kept.answers).sort()) ===
        JSON.stringify(Object.entries(expected).sort()),
      `${kept.name}: ${JSON.stringify(kept.answers)}, expected ${JSON.stringify(expected)}`,
    );
    rows.push(kept);
    return results;
  };
  try {
    await engine.loadCatalog(catalog(holders));
    const checker = (await engine.issueToken('checker')).token.token;
    const user = (i: number) => `holder-${i}`;
    // Setup: every holder joins, is charged, holds two seats and pays (rows of their own, for scale).
    const tokens = keep(
      await timed(
        'setup: issueToken',
        holders,
        async (i) => (await engine.issueToken(user(i))).token.token,
        dataDir,
      ),
      { ok: holders },
    ) as string[];
    keep(
      await timed(
        'setup: charge',
        holders,
        (i) =>
          engine.charge(
            tokens[i]!,
            { userId: user(i), amount: 2 * PRICE },
            { idempotencyKey: `charge-${i}` },
          ),
        dataDir,
      ),
      { ok: holders },
    );
    const reservations = keep(
      await timed(
        'setup: reserve two seats (seatNos)',
        holders,
        (i) =>
          engine.reserve(tokens[i]!, { scheduleId: SCHEDULE, seatNos: [2 * i + 1, 2 * i + 2] }),
        dataDir,
      ),
      { ok: holders },
    );
    keep(
      await timed(
        'setup: pay (two tickets each)',
        holders,
        (i) =>
          engine.pay(
            tokens[i]!,
            { reservationId: reservations[i]!.id },
            { idempotencyKey: `pay-${i}` },
          ),
        dataDir,
      ),
      { ok: holders },
    );
    // The first read after the payments (PostgreSQL: its fresh tables' first plans and pages), apart.
    keep(
      await timed(
        'listTickets, first read (2 tickets each)',
        holders,
        (i) => engine.listTickets(user(i)),
        dataDir,
      ),
      { ok: holders },
    );
    const listed = keep(
      await timed(
        'listTickets (2 tickets each)',
        holders,
        (i) => engine.listTickets(user(i)),
        dataDir,
      ),
      { ok: holders },
    ) as (readonly Ticket[])[];
    check(
      listed.every((tickets) => tickets.length === 2 && tickets.every((t) => t.status === 'valid')),
      'a holder without two valid tickets',
    );
    const withCodes = keep(
      await timed(
        'listTickets with codes, as GET /tickets (2 tickets each)',
        holders,
        async (i) => Promise.all((await engine.listTickets(user(i))).map((t) => withCode(keys, t))),
        dataDir,
      ),
      { ok: holders },
    ) as (readonly (Ticket & { code: string })[])[];
    // Each holder refunds the ticket of their first seat and checks in with the other.
    const refundOf = (i: number) => withCodes[i]!.find((t) => t.seatNo === 2 * i + 1)!;
    const entryOf = (i: number) => withCodes[i]!.find((t) => t.seatNo === 2 * i + 2)!;
    keep(
      await timed(
        'refund (holder, Idempotency-Key, each a distinct ticket)',
        holders,
        (i) =>
          engine.refundTicket(
            refundOf(i).id,
            { userId: user(i) },
            { idempotencyKey: `refund-${refundOf(i).id}` },
          ),
        dataDir,
      ),
      { ok: holders },
    );
    const scan = async (code: string) => {
      const claims = await verifyTicketCode(keys, code);
      if (claims === undefined) throw new Error('a code that does not verify');
      return engine.checkIn(claims);
    };
    keep(
      await timed(
        'check-in (verify the code, then checkIn)',
        holders,
        (i) => scan(entryOf(i).code),
        dataDir,
      ),
      {
        ok: holders,
      },
    );
    keep(
      await timed(
        'check-in again (ALREADY_CHECKED_IN)',
        holders,
        (i) => scan(entryOf(i).code),
        dataDir,
      ),
      { 'refused ALREADY_CHECKED_IN': holders },
    );
    keep(
      await timed(
        'check-in of a refunded ticket (TICKET_VOID)',
        holders,
        (i) => scan(refundOf(i).code),
        dataDir,
      ),
      { 'refused TICKET_VOID': holders },
    );
    // The refunded seats are on sale again (nobody waits), and only they.
    const onSale = (await engine.listSeats(checker, SCHEDULE)).seats.map((seat) => seat.seatNo);
    check(
      onSale.length === holders && onSale.every((seatNo) => seatNo % 2 === 1),
      `${onSale.length} seats on sale after ${holders} refunds`,
    );
    const stored = await contents();
    const violations = invariantViolations(stored);
    check(violations.length === 0, `invariants: ${violations.slice(0, 5).join('; ')}`);
    const byStatus: Record<string, number> = {};
    for (const ticket of stored.tickets.values())
      byStatus[ticket.status] = (byStatus[ticket.status] ?? 0) + 1;
    check(
      byStatus['refunded'] === holders &&
        byStatus['checked_in'] === holders &&
        byStatus['valid'] === undefined,
      `tickets stored: ${JSON.stringify(byStatus)}`,
    );
    for (let i = 0; i < holders; i++) {
      const wallet = stored.wallets.get(user(i));
      check(
        wallet?.refunded === PRICE && wallet.balance === PRICE,
        `the wallet of ${user(i)}: ${JSON.stringify(wallet)}`,
      );
    }
    return {
      engine: kind,
      holders,
      signing,
      rows,
      invariants: `all hold (invariantViolations: none; ${holders} refunded and ${holders} checked-in tickets stored, ${holders} seats on sale again, every wallet refunded ${PRICE})`,
    };
  } finally {
    await close();
  }
}

/** CPU µs (node + PostgreSQL) per ticket listed, with codes (as `GET /tickets`) or without. */
export function perTicketListed(
  result: { rows: readonly TicketRow[] },
  codes = true,
): number | undefined {
  const row = result.rows.find((r) =>
    r.name.startsWith(codes ? 'listTickets with' : 'listTickets ('),
  );
  if (!row) return undefined;
  return round((row.cpuUsPerCommand.node + (row.cpuUsPerCommand.postgres ?? 0)) / 2, 0);
}

export function ticketsTable(result: TicketsResult): string {
  const { signing } = result;
  return [
    `Signing (one at a time, ${signing.codes.toLocaleString('en')} codes of ${signing.codeLength} characters): ticketCode ${signing.signUs} µs, verifyTicketCode ${signing.verifyUs} µs of CPU per code.`,
    `GET /tickets in-process: ${perTicketListed(result)} µs of CPU per ticket listed with its code (${perTicketListed(result, false)} µs without codes).`,
    '',
    `In-process, ${result.engine} engine, ${result.holders.toLocaleString('en')} holders of two tickets, ${CONCURRENCY} in flight:`,
    '',
    '| row | commands/s | p50 / p99 ms | CPU µs/command (node + postgres) | answers |',
    '|---|---:|---:|---:|---|',
    ...result.rows.map(
      (row) =>
        `| ${row.name} | ${row.opsPerSecond.toLocaleString('en')} | ${row.p50Ms} / ${row.p99Ms} | ${row.cpuUsPerCommand.node}${row.cpuUsPerCommand.postgres === undefined ? '' : ` + ${row.cpuUsPerCommand.postgres}`} | ${Object.entries(
          row.answers,
        )
          .map(([key, n]) => `${key}: ${n}`)
          .join(', ')} |`,
    ),
    '',
    `Invariants: ${result.invariants}`,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [kindArg = 'memory', holdersArg = '2000', codesArg = String(SIGNING_COUNT)] =
    process.argv.slice(2);
  const result = await runTickets(
    kindArg as TicketsEngineKind,
    Number(holdersArg),
    Number(codesArg),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stderr.write(ticketsTable(result));
}
