import test from 'ava';
import fc from 'fast-check';
import pg from 'pg';
import { manual } from '@usher/testkit';
import {
  isAbandoned,
  isAdmitting,
  isSpentForgettable,
  lifecyclesFor,
  reservationStatusAt,
  resolveConfig,
  statusAt,
} from '@usher/engine/rules';
import { createDatabase, usePostgres } from '@usher/testkit';
import { openEngine } from './helpers/engines.js';

/**
 * Each rule's predicate is stated once in SQL (the migrations' `predicates.ts`)
 * and once in the shared rules: the two must agree. Random tokens, holds and
 * rooms, each judged by both, around their deadlines (a deadline ends at its
 * own instant).
 */
const server = usePostgres(test);
const lifecycles = lifecyclesFor(resolveConfig(manual));

test("the schema's predicates agree with the rules' at every instant", async (t) => {
  const url = await createDatabase(server());
  await openEngine(t, url, { config: manual, catalog: null });
  const client = new pg.Client(url);
  await client.connect();
  t.teardown(() => client.end());
  const status = fc.constantFrom('waiting', 'active', 'expired');
  const hold = fc.constantFrom('held', 'paid', 'expired', 'cancelled');
  const time = fc.integer({ min: 0, max: 20 });
  const sample = fc.record({
    token: status,
    hold,
    deadline: time,
    lastSeen: time,
    ttl: fc.integer({ min: 1, max: 10 }),
    now: time,
    paused: fc.boolean(),
    pendingOpening: fc.boolean(),
    soldOut: fc.boolean(),
  });
  const samples = fc.sample(sample, { numRuns: 500, seed: 20 });
  const { rows } = await client.query<Record<string, boolean>>(
    `SELECT usher_token_active(ROW('t', 'u', s.token, NULL, NULL, 0, s.deadline, s.last_seen, NULL, 'default')::tokens, s.now) AS token_active,
            usher_token_overdue(ROW('t', 'u', s.token, NULL, NULL, 0, s.deadline, s.last_seen, NULL, 'default')::tokens, s.now) AS token_overdue,
            usher_waiter_present(ROW('t', 'u', s.token, NULL, NULL, 0, s.deadline, s.last_seen, NULL, 'default')::tokens, s.now, s.ttl) AS present,
            usher_waiter_abandoned(ROW('t', 'u', s.token, NULL, NULL, 0, s.deadline, s.last_seen, NULL, 'default')::tokens, s.now, s.ttl) AS abandoned,
            usher_hold_live(ROW('r', 'u', 's', 1, 1, s.hold, 0, s.deadline, NULL, NULL, NULL, 0, NULL)::reservations, s.now) AS hold_live,
            usher_hold_overdue(ROW('r', 'u', 's', 1, 1, s.hold, 0, s.deadline, NULL, NULL, NULL, 0, NULL)::reservations, s.now) AS hold_overdue,
            usher_seat_taken(ROW('r', 'u', 's', 1, 1, s.hold, 0, s.deadline, NULL, NULL, NULL, 0, NULL)::reservations, s.now) AS seat_taken,
            usher_room_admits(ROW(1, s.paused, 1, 1, NULL, false, s.pending, s.sold_out, 0, 0, NULL, NULL, NULL, NULL)::room) AS room_admits,
            usher_spent_forgettable(ROW('c', s.deadline)::spent_challenges, s.now) AS spent_forgettable,
            usher_seat_live(ROW('r', 1, 's', 'u', s.hold, s.deadline)::reservation_seats) AS seat_live,
            usher_seat_occupied(ROW('r', 1, 's', 'u', s.hold, s.deadline)::reservation_seats, s.now) AS seat_occupied
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::boolean[], $8::boolean[], $9::boolean[])
            WITH ORDINALITY AS s (token, hold, deadline, last_seen, ttl, now, paused, pending, sold_out, i)
      ORDER BY s.i`,
    [
      samples.map((s) => s.token),
      samples.map((s) => s.hold),
      samples.map((s) => s.deadline),
      samples.map((s) => s.lastSeen),
      samples.map((s) => s.ttl),
      samples.map((s) => s.now),
      samples.map((s) => s.paused),
      samples.map((s) => s.pendingOpening),
      samples.map((s) => s.soldOut),
    ],
  );
  samples.forEach((s, i) => {
    const token = {
      token: 't',
      userId: 'u',
      status: s.token as 'waiting' | 'active' | 'expired',
      seq: 0,
      issuedAt: 0,
      expiresAt: s.deadline,
    };
    const reservation = {
      id: 'r',
      userId: 'u',
      scheduleId: 's',
      seatNo: 1,
      price: 1,
      status: s.hold as 'held' | 'paid' | 'expired' | 'cancelled',
      createdAt: 0,
      expiresAt: s.deadline,
    };
    const config = resolveConfig({ ...manual, queueWaitingTtlMs: s.ttl });
    const holdNow = reservationStatusAt(reservation, s.now, lifecycles);
    const room = {
      paused: s.paused,
      admitPerTick: 1,
      maxActive: 1,
      opensAt: null,
      shuffle: false,
      pendingOpening: s.pendingOpening,
      soldOut: s.soldOut,
      draw: null,
    };
    t.deepEqual(
      rows[i],
      {
        token_active: s.token === 'active' && statusAt(token, s.now, lifecycles) === 'active',
        token_overdue: s.token === 'active' && statusAt(token, s.now, lifecycles) === 'expired',
        present: s.token === 'waiting' && !isAbandoned(s.lastSeen, s.now, config),
        abandoned: s.token === 'waiting' && isAbandoned(s.lastSeen, s.now, config),
        hold_live: s.hold === 'held' && holdNow === 'held',
        hold_overdue: s.hold === 'held' && holdNow === 'expired',
        seat_taken: holdNow === 'held' || holdNow === 'paid',
        room_admits: isAdmitting(room) && !room.soldOut,
        spent_forgettable: isSpentForgettable(s.deadline, s.now),
        // Migration 3: a seat of an order, as its reservation.
        seat_live: s.hold === 'held' || s.hold === 'paid',
        seat_occupied: holdNow === 'held' || holdNow === 'paid',
      },
      JSON.stringify(s),
    );
  });
});
