/**
 * SIGKILL of the real server (embedded engine, lowdb in DATA_DIR) in the
 * middle of refunds and transfers (SPEC §11): after a restart, every refund
 * and transfer answered 2xx is there, and the invariants hold.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { invariantViolations } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { client, eventually, startServerProcess } from './helpers/serverProcess.js';

const USERS = 20;
const SEATS = 4;

test('SIGKILL in the middle of refunds and transfers: every one answered 2xx is kept, the invariants hold', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'usher-tickets-crash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const DATA_DIR = join(dir, 'data');
  const CATALOG = join(dir, 'catalog.json');
  await writeFile(
    CATALOG,
    JSON.stringify({
      concerts: [{ id: 'hall', title: 'Hall' }],
      schedules: [
        {
          id: 'hall-1',
          concertId: 'hall',
          startsAt: '2099-05-01T19:00:00+09:00',
          totalSeats: USERS * SEATS,
          price: 1_000,
        },
      ],
    }),
  );
  const env = {
    DATA_DIR,
    CATALOG,
    TOKEN_RATE_PER_MINUTE: '0',
    MAX_CONNECTIONS_PER_ADDRESS: '0',
    QUEUE_MAX_ACTIVE: '1000',
    QUEUE_ADMIT_PER_TICK: '1000',
  };
  const server = await startServerProcess(env);
  t.teardown(() => server.process.kill('SIGKILL'));
  const api = client(server.url);

  // Every user buys SEATS seats.
  const tokens: string[] = [];
  const tickets: string[][] = [];
  for (let i = 0; i < USERS; i++) {
    const userId = `u${i}`;
    const issued = await api('POST', '/queue/tokens', { body: { userId } });
    const token = issued.body.token as string;
    await eventually(async () =>
      (await api('GET', '/queue/tokens/current', { token })).body.status === 'active'
        ? true
        : undefined,
    );
    const seatNos = Array.from({ length: SEATS }, (_, k) => i * SEATS + k + 1);
    const hold = await api('POST', '/reservations', {
      token,
      body: { scheduleId: 'hall-1', seatNos },
    });
    t.is(hold.status, 201, JSON.stringify(hold.body));
    await api('POST', `/users/${userId}/balance/charge`, {
      token,
      body: { amount: hold.body.amount },
    });
    t.is(
      (await api('POST', '/payments', { token, body: { reservationId: hold.body.id } })).status,
      201,
    );
    const listed = (await api('GET', '/tickets', { token })).body.tickets as { id: string }[];
    tokens.push(token);
    tickets.push(listed.map((ticket) => ticket.id));
  }

  // All at once: refund two tickets of each user, give two away; kill the server midway.
  type Op = { kind: 'refund' | 'transfer'; user: number; ticketId: string; to?: string };
  const ops: Op[] = [];
  for (let i = 0; i < USERS; i++)
    tickets[i]!.forEach((ticketId, k) =>
      ops.push(
        k % 2 === 0
          ? { kind: 'refund', user: i, ticketId }
          : { kind: 'transfer', user: i, ticketId, to: `r${i}` },
      ),
    );
  const acknowledged: { op: Op; body: Record<string, any> }[] = [];
  let answered = 0;
  const killAfter = 3;
  await Promise.all(
    ops.map(async (op) => {
      try {
        const answer =
          op.kind === 'refund'
            ? await api('POST', `/tickets/${op.ticketId}/refund`, {
                token: tokens[op.user]!,
                headers: { 'idempotency-key': `r-${op.ticketId}` },
              })
            : await api('POST', `/tickets/${op.ticketId}/transfer`, {
                token: tokens[op.user]!,
                body: { toUserId: op.to },
                headers: { 'idempotency-key': `t-${op.ticketId}` },
              });
        if (answer.status >= 200 && answer.status < 300)
          acknowledged.push({ op, body: answer.body });
        if (++answered === killAfter) server.process.kill('SIGKILL');
      } catch {
        // cut off by the kill: not acknowledged
      }
    }),
  );
  await server.exited;
  t.log(`${acknowledged.length} of ${ops.length} acknowledged before the kill`);
  t.true(acknowledged.length >= killAfter);
  t.true(acknowledged.length < ops.length, 'the kill came in the middle');

  // Restart on the same folder, then stop it cleanly and read what is durable.
  const restarted = await startServerProcess(env);
  t.teardown(() => restarted.process.kill('SIGKILL'));
  t.is((await client(restarted.url)('GET', '/ready')).status, 200);
  restarted.process.kill('SIGTERM');
  await restarted.exited;
  const store = new LowdbStore(DATA_DIR);
  const contents = (await store.load())!;
  await store.close();
  t.deepEqual(invariantViolations(contents), []);
  for (const { op, body } of acknowledged) {
    const ticket = contents.tickets.get(op.ticketId);
    if (op.kind === 'refund') t.is(ticket?.status, 'refunded', op.ticketId);
    else {
      t.is(ticket?.status, 'transferred', op.ticketId);
      t.like(contents.tickets.get(body.id as string), { holder: op.to, status: 'valid' });
    }
  }
  // Every user: the price of each refunded ticket back, nothing else.
  for (let i = 0; i < USERS; i++) {
    const refunded = [...contents.tickets.values()].filter(
      (ticket) => ticket.holder === `u${i}` && ticket.status === 'refunded',
    ).length;
    t.is(contents.wallets.get(`u${i}`)?.balance, refunded * 1_000);
  }
});
