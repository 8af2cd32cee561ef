import test from 'ava';
import { Catalog } from '../src/catalog/Catalog.js';
import { HoldBook } from '../src/holds/HoldBook.js';
import { ChangeSet } from '../src/persistence/ChangeSet.js';
import type { ReservationRecord } from '@usher/engine';
import { START } from './helpers/fixture.js';

// The embedded engine's hold book on its own. How holds behave through the
// engine API, on every engine, is in packages/behaviour/test/holds.test.ts.

test('the safety sweep expires an overdue hold without the deadline heap', (t) => {
  const catalog = new Catalog();
  const schedule = catalog.addSchedule({
    id: 's',
    concertId: 'c',
    startsAt: '2027-01-01T00:00:00Z',
    totalSeats: 3,
    prices: [{ from: 1, to: 3, price: 10 }],
  });
  const holds = new HoldBook(catalog);
  const tx = new ChangeSet();
  const hold: ReservationRecord = {
    id: 'r1',
    userId: 'ann',
    scheduleId: 's',
    seatNo: 2,
    price: 10,
    status: 'held',
    createdAt: START,
    expiresAt: START + 1_000,
  };
  holds.hold(hold, tx);
  holds.sweep(START + 999, tx);
  t.is(hold.status, 'held');
  holds.sweep(START + 1_000, tx);
  t.is(hold.status, 'expired');
  t.is(hold.endedAt, START + 1_000, 'it expired at its deadline, not when the sweep ran');
  t.is(schedule.seats.state(2), 'available');
  t.is(holds.heldBy('ann'), 0);
  t.deepEqual(
    tx.changes.map(([collection, key]) => [collection, key]),
    [
      ['reservations', hold.id],
      ['reservations', hold.id],
    ],
  );
});
