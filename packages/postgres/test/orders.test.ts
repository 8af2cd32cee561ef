import test from 'ava';
import pg from 'pg';
import { activeToken, createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine } from './helpers/engines.js';

/**
 * Orders on PostgreSQL (SPEC §10, migration 3): what the behaviour suite
 * cannot see from outside. The seats of every reservation are rows of
 * `reservation_seats`, whose partial unique index keeps a seat in one live
 * reservation whatever writes it (migration 1's one-seat hold, which an
 * older gateway still sends during a rolling upgrade, included), and they
 * move with their reservation in one statement.
 */
const server = usePostgres(test);

async function connect(t: import('ava').ExecutionContext, url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

test("migration 1's one-seat hold cannot take a seat inside a live order: UR409, nothing written", async (t) => {
  const url = await createDatabase(server());
  const { engine, clock } = await openEngine(t, url, {
    config: { ...manual, maxTicketsPerUser: 10 },
  });
  const ann = await activeToken(engine, 'ann');
  const order = await engine.reserve(ann, { scheduleId: 's1', seatNos: [3, 4, 5] });
  const bob = await activeToken(engine, 'bob');
  const client = await connect(t, url);
  const hold = {
    now: clock.now(),
    user_id: 'bob',
    token: bob,
    held: 0,
    id: 'old-gateway',
    schedule_id: 's1',
    seat_no: 4,
    price: 1_000,
    status: 'held',
    created_at: 0,
    expires_at: 9e12,
    stale_id: null,
    stale_at: null,
    extend_to: null,
  };
  const { rows } = await client.query<{ err: string | null }>(
    'SELECT err FROM usher_apply_each(NULL::usher_hold, $1::json)',
    [JSON.stringify([hold])],
  );
  t.is(rows[0]!.err, 'UR409');
  const seats = await client.query<{ reservation_id: string; seat_no: number; status: string }>(
    'SELECT reservation_id, seat_no, status FROM reservation_seats ORDER BY seat_no',
  );
  t.deepEqual(
    seats.rows,
    [3, 4, 5].map((seatNo) => ({ reservation_id: order.id, seat_no: seatNo, status: 'held' })),
  );
  t.is((await client.query('SELECT 1 FROM reservations')).rowCount, 1);
});

test('an order moves all its seats in the statement that moves it: cancelled, every seat is free at once', async (t) => {
  const url = await createDatabase(server());
  const { engine } = await openEngine(t, url, { config: { ...manual, maxTicketsPerUser: 10 } });
  const ann = await activeToken(engine, 'ann');
  const order = await engine.reserve(ann, { scheduleId: 's1', quantity: 3 });
  t.deepEqual(
    order.seats.map(({ seatNo }) => seatNo),
    [1, 2, 3],
  );
  const client = await connect(t, url);
  const statuses = async () =>
    (
      await client.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM reservation_seats GROUP BY status',
      )
    ).rows;
  t.deepEqual(await statuses(), [{ status: 'held', n: 3 }]);
  await engine.cancelReservation(ann, order.id);
  t.deepEqual(await statuses(), [{ status: 'cancelled', n: 3 }]);
  // A seat's row that no longer follows its reservation is a fault, not a silent mismatch.
  await client.query('DELETE FROM reservation_seats WHERE seat_no = 2');
  const error = await t.throwsAsync(
    client.query("UPDATE reservations SET status = 'expired' WHERE id = $1", [order.id]),
  );
  t.is((error as { code?: string }).code, 'UR500');
});

test('seat numbers past anything PostgreSQL stores are SEAT_NOT_FOUND, as on the embedded engine', async (t) => {
  const url = await createDatabase(server());
  const { engine } = await openEngine(t, url);
  const ann = await activeToken(engine, 'ann');
  for (const request of [
    { scheduleId: 's1', seatNo: 2 ** 40 },
    { scheduleId: 's1', seatNos: [1, 2 ** 40] },
  ])
    await t.throwsAsync(engine.reserve(ann, request), { message: /has seats 1 to 10/ });
});
