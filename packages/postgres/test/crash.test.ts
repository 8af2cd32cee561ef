import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { invariantViolations } from '@usher/engine';
import { readContents } from '@usher/postgres';
import { startPostgres } from '@usher/testkit';
import { assertInvariants, Database, random } from './processes/database.js';

/**
 * SPEC §5.3 for the PostgreSQL engine: an engine process SIGKILLed at any
 * moment loses no acknowledged operation (an answer comes only after its
 * commit), and what it left behind keeps every invariant.
 */
type Ack =
  | { op: 'ready' }
  | { op: 'charge'; userId: string; key: string; amount: number }
  | { op: 'reserve'; userId: string; id: string }
  | { op: 'pay'; userId: string; id: string; reservationId: string; amount: number }
  | { op: 'cancel'; userId: string; reservationId: string }
  | { op: 'refund'; userId: string; ticketId: string; key: string }
  | { op: 'transfer'; userId: string; ticketId: string; newId: string; toUserId: string }
  | { op: 'checkin'; ticketId: string };

const child = fileURLToPath(new URL('./processes/operationStream.ts', import.meta.url));

/** When to kill a run: after some acknowledgements, or after some milliseconds from its start (perhaps before it is ready). */
type KillPoint = { readonly acks: number } | { readonly ms: number };

/** Runs the operation stream until the kill point, then SIGKILLs it; answers what it acknowledged. */
async function runAndKill(url: string, run: number, at: KillPoint): Promise<Ack[]> {
  const proc = spawn(process.execPath, [...process.execArgv, child, url, `run${run}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acks: Ack[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    proc.once('exit', (_code, signal) => resolve(signal)),
  );
  const timer = 'ms' in at ? setTimeout(() => proc.kill('SIGKILL'), at.ms) : undefined;
  for await (const line of createInterface({ input: proc.stdout })) {
    acks.push(JSON.parse(line) as Ack);
    if ('acks' in at && acks.length > at.acks) {
      proc.kill('SIGKILL');
      break;
    }
  }
  clearTimeout(timer);
  return (await exited) === 'SIGKILL'
    ? acks
    : Promise.reject(new Error('the operation stream died before it was killed'));
}

/** Every acknowledged operation is in the database (one query per kind). */
async function assertAcknowledged(
  t: import('ava').ExecutionContext,
  db: Database,
  acks: readonly Ack[],
): Promise<void> {
  const of = <K extends Ack['op']>(op: K) =>
    acks.filter((ack): ack is Extract<Ack, { op: K }> => ack.op === op);
  const charges = of('charge');
  const keys = await db.rows<{ user_id: string; key: string; fingerprint: string }>(
    `SELECT k.user_id, k.key, k.fingerprint FROM idempotency_keys k JOIN unnest($1::text[], $2::text[]) AS x (user_id, key) USING (user_id, key)`,
    [charges.map((ack) => ack.userId), charges.map((ack) => ack.key)],
  );
  const fingerprints = new Map(keys.map((row) => [`${row.user_id} ${row.key}`, row.fingerprint]));
  for (const ack of charges)
    t.is(
      fingerprints.get(`${ack.userId} ${ack.key}`),
      JSON.stringify(['charge', ack.userId, ack.amount]),
      `charge ${ack.key} of ${ack.userId}`,
    );

  const reservationIds = [
    ...of('reserve').map((ack) => ack.id),
    ...of('pay').map((ack) => ack.reservationId),
    ...of('cancel').map((ack) => ack.reservationId),
  ];
  const reservations = new Map(
    (
      await db.rows<{ id: string; user_id: string; status: string }>(
        `SELECT id, user_id, status FROM reservations WHERE id = ANY($1)`,
        [reservationIds],
      )
    ).map((row) => [row.id, row]),
  );
  for (const ack of of('reserve'))
    t.is(reservations.get(ack.id)?.user_id, ack.userId, `hold ${ack.id}`);
  for (const ack of of('cancel'))
    t.is(
      reservations.get(ack.reservationId)?.status,
      'cancelled',
      `cancellation of ${ack.reservationId}`,
    );
  const pays = of('pay');
  const payments = new Map(
    (
      await db.rows<{ id: string; reservation_id: string; amount: string }>(
        `SELECT id, reservation_id, amount FROM payments WHERE id = ANY($1)`,
        [pays.map((ack) => ack.id)],
      )
    ).map((row) => [row.id, row]),
  );
  for (const ack of pays) {
    const payment = payments.get(ack.id);
    t.deepEqual(
      payment && { reservationId: payment.reservation_id, amount: Number(payment.amount) },
      { reservationId: ack.reservationId, amount: ack.amount },
      `payment ${ack.id}`,
    );
    t.is(
      reservations.get(ack.reservationId)?.status,
      'paid',
      `reservation ${ack.reservationId} paid`,
    );
  }

  // Tickets (SPEC §11): what was refunded, transferred and checked in is so.
  const ticketIds = [
    ...of('refund').map((ack) => ack.ticketId),
    ...of('transfer').flatMap((ack) => [ack.ticketId, ack.newId]),
    ...of('checkin').map((ack) => ack.ticketId),
  ];
  const tickets = new Map(
    (
      await db.rows<{ id: string; holder: string; status: string; transferred_to: string | null }>(
        `SELECT id, holder, status, transferred_to FROM tickets WHERE id = ANY($1)`,
        [ticketIds],
      )
    ).map((row) => [row.id, row]),
  );
  for (const ack of of('refund'))
    t.like(
      tickets.get(ack.ticketId),
      { holder: ack.userId, status: 'refunded' },
      `refund ${ack.key}`,
    );
  for (const ack of of('transfer')) {
    t.like(
      tickets.get(ack.ticketId),
      { holder: ack.userId, status: 'transferred', transferred_to: ack.newId },
      `transfer of ${ack.ticketId}`,
    );
    // The receiver's ticket may have moved on since (refunded, transferred, checked in), never vanished.
    t.is(tickets.get(ack.newId)?.holder, ack.toUserId, `transferred ticket ${ack.newId}`);
  }
  for (const ack of of('checkin'))
    t.is(tickets.get(ack.ticketId)?.status, 'checked_in', `check-in of ${ack.ticketId}`);
}

test('an engine process SIGKILLed at random moments loses no acknowledged operation and breaks no invariant', async (t) => {
  const seed = Number(process.env['CRASH_SEED'] ?? Date.now() % 1_000_000);
  const next = random(seed);
  t.log(`seed ${seed} (CRASH_SEED=${seed} replays the kill points)`);
  const server = await startPostgres();
  t.teardown(() => server.remove());
  const db = new Database(server.connectionString);
  t.teardown(() => db.close());

  // The first run dies within 2.5 s of its start, maybe while it applies the migrations; the others
  // after a random number of acknowledged operations, mid-command.
  const killPoints: KillPoint[] = [
    { ms: Math.floor(next() * 2_500) },
    { acks: 0 },
    ...Array.from({ length: 5 }, () => ({ acks: 1 + Math.floor(next() * 400) })),
  ];
  const acknowledged: Ack[] = [];
  for (const [run, at] of killPoints.entries()) {
    const started = performance.now();
    const acks = await runAndKill(server.connectionString, run, at);
    acknowledged.push(...acks);
    const [schema] = await db.rows<{ migrated: boolean }>(
      `SELECT to_regclass('usher_migrations') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'usher_apply') AS migrated`,
    );
    if (!schema?.migrated) {
      // Killed before its migrations committed: nothing can have been acknowledged, and the next run migrates.
      t.deepEqual(acknowledged, [], 'nothing acknowledged before the schema exists');
      t.log(
        `run ${run}: killed ${'ms' in at ? at.ms : '?'} ms after its start, before the schema was committed`,
      );
      continue;
    }

    await assertAcknowledged(t, db, acknowledged);
    const wallets = await assertInvariants(t, db);
    t.deepEqual(invariantViolations(await readContents(server.connectionString)), []);
    // Every charge has a key, so each wallet adds up to the charges the database kept, acknowledged or not.
    const charged = new Map<string, number>();
    for (const { fingerprint } of await db.rows<{ fingerprint: string }>(
      `SELECT fingerprint FROM idempotency_keys`,
    )) {
      const [kind, userId, amount] = JSON.parse(fingerprint) as [string, string, number];
      if (kind === 'charge') charged.set(userId, (charged.get(userId) ?? 0) + amount);
    }
    for (const [userId, wallet] of wallets)
      t.is(wallet.charged, charged.get(userId) ?? 0, `charges of ${userId} add up`);
    t.deepEqual(
      [...charged.keys()].filter((userId) => !wallets.has(userId)),
      [],
      'every charge has its wallet',
    );
    // Nobody holds more than maxHoldsPerUser live seats.
    const over = await db.rows(
      `SELECT user_id FROM reservations WHERE status = 'held' AND expires_at > $1 GROUP BY 1 HAVING count(*) > 2`,
      [Date.now()],
    );
    t.deepEqual(over, []);

    const [counts] = await db.rows<{ payments: number; reservations: number }>(
      `SELECT (SELECT count(*)::int FROM payments) AS payments, (SELECT count(*)::int FROM reservations) AS reservations`,
    );
    const point = 'ms' in at ? `${at.ms} ms after its start` : `after ${at.acks} acknowledgements`;
    t.log(
      `run ${run}: killed ${point} (${Math.round(performance.now() - started)} ms); ${counts?.payments} payments, ${counts?.reservations} reservations so far`,
    );
  }
  const operations = acknowledged.filter((ack) => ack.op !== 'ready');
  t.true(
    operations.length >= killPoints.reduce((sum, at) => sum + ('acks' in at ? at.acks : 0), 0),
  );
  t.true(
    operations.some((ack) => ack.op === 'pay') && operations.some((ack) => ack.op === 'charge'),
    'payments and charges were acknowledged',
  );
  t.log(
    `acknowledged: ${(
      ['charge', 'reserve', 'pay', 'cancel', 'refund', 'transfer', 'checkin'] as const
    )
      .map((op) => `${operations.filter((ack) => ack.op === op).length} ${op}`)
      .join(', ')}`,
  );
});
