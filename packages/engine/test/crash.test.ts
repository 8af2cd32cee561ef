import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { LowdbStore } from '@usher/engine/lowdb';
import { assertInvariants } from './helpers/invariants.js';

type Ack =
  | { op: 'ready' }
  | { op: 'charge'; userId: string; key: string; amount: number }
  | { op: 'reserve'; userId: string; id: string }
  | { op: 'pay'; userId: string; id: string; reservationId: string; amount: number }
  | { op: 'cancel'; userId: string; reservationId: string }
  | { op: 'refund'; userId: string; ticketId: string }
  | { op: 'transfer'; userId: string; ticketId: string; newTicketId: string }
  | { op: 'join'; userId: string };

const child = fileURLToPath(new URL('./crash/operationStream.ts', import.meta.url));

/** A tiny seeded PRNG (mulberry32), so a failing run can be replayed from its seed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), seed | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the operation stream until it has acknowledged `killAfter` operations, then SIGKILLs it. */
async function runAndKill(dir: string, run: number, killAfter: number): Promise<Ack[]> {
  const proc = spawn(process.execPath, [...process.execArgv, child, dir, `run${run}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acks: Ack[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    proc.once('exit', (_code, signal) => resolve(signal)),
  );
  for await (const line of createInterface({ input: proc.stdout })) {
    acks.push(JSON.parse(line) as Ack);
    if (acks.length > killAfter) {
      proc.kill('SIGKILL');
      break;
    }
  }
  return (await exited) === 'SIGKILL'
    ? acks
    : Promise.reject(new Error('the operation stream died before it was killed'));
}

test('SIGKILL at random moments loses no acknowledged operation and breaks no invariant', async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const next = random(seed);
  t.log(`seed ${seed} (CRASH_SEED=${seed} replays the kill points)`);
  const dir = await mkdtemp(join(tmpdir(), 'usher-crash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const acknowledged: Ack[] = [];
  const killPoints = [0, ...Array.from({ length: 5 }, () => 1 + Math.floor(next() * 1_500))];

  for (const [run, killAfter] of killPoints.entries()) {
    acknowledged.push(...(await runAndKill(dir, run, killAfter)));
    const store = new LowdbStore(dir, { onWarning: (message) => t.log(message) });
    const contents = (await store.load())!;
    await store.close();

    for (const ack of acknowledged) {
      if (ack.op === 'charge')
        t.is(
          contents.idempotency.get(JSON.stringify([ack.userId, ack.key]))?.fingerprint,
          JSON.stringify(['charge', ack.userId, ack.amount]),
        );
      if (ack.op === 'reserve') t.true(contents.reservations.has(ack.id), `hold ${ack.id}`);
      if (ack.op === 'pay') {
        t.is(contents.payments.get(ack.id)?.amount, ack.amount);
        t.is(contents.reservations.get(ack.reservationId)?.status, 'paid');
      }
      if (ack.op === 'cancel')
        t.is(contents.reservations.get(ack.reservationId)?.status, 'cancelled');
      if (ack.op === 'refund') t.is(contents.tickets.get(ack.ticketId)?.status, 'refunded');
      // A join stands until it has all it asked for (then its offers are holds) or the user leaves (never here).
      if (ack.op === 'join')
        t.true(
          [...contents.waitlist.values()].some((e) => e.userId === ack.userId) ||
            [...contents.reservations.values()].some(
              (r) => r.userId === ack.userId && r.origin === 'waitlist',
            ),
          `join of ${ack.userId}`,
        );
      if (ack.op === 'transfer') {
        t.is(contents.tickets.get(ack.ticketId)?.status, 'transferred');
        t.is(contents.tickets.get(ack.newTicketId)?.transferredFrom, ack.ticketId);
      }
    }
    assertInvariants(t, contents);
    // Every charge has a key, so the wallets must add up to the charges the store kept, acknowledged or not.
    const charged = new Map<string, number>();
    for (const record of contents.idempotency.values()) {
      const [, userId, amount] = JSON.parse(record.fingerprint) as [string, string, number];
      charged.set(userId, (charged.get(userId) ?? 0) + amount);
    }
    for (const wallet of contents.wallets.values())
      t.is(wallet.charged, charged.get(wallet.userId) ?? 0);
    t.log(
      `run ${run}: killed after ${killAfter} acknowledgements; ${contents.payments.size} payments, ${contents.reservations.size} reservations, ${[...contents.tickets.values()].filter((ticket) => ticket.status === 'refunded').length} refunds, ${[...contents.tickets.values()].filter((ticket) => ticket.status === 'transferred').length} transfers, ${[...contents.reservations.values()].filter((r) => r.origin === 'waitlist').length} offers so far`,
    );
  }
  t.true(
    acknowledged.filter((ack) => ack.op !== 'ready').length >=
      killPoints.reduce((a, b) => a + b, 0),
  );
});
