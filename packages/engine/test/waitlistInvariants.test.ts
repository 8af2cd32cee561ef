import test from 'ava';
import {
  emptyContents,
  invariantViolations,
  type ReservationRecord,
  type WaitlistRecord,
} from '@usher/engine';

/** A date of two seats, both held, and users waiting for them (SPEC §11). */
function soldOut() {
  const contents = emptyContents();
  contents.schedules.set('s1', {
    id: 's1',
    concertId: 'c1',
    startsAt: '2027-05-01T19:00:00Z',
    totalSeats: 2,
    prices: [{ from: 1, to: 2, price: 100 }],
  });
  const held: ReservationRecord = {
    id: 'r1',
    userId: 'bob',
    scheduleId: 's1',
    seatNo: 1,
    price: 100,
    seats: [
      { seatNo: 1, price: 100 },
      { seatNo: 2, price: 100 },
    ],
    amount: 200,
    status: 'held',
    createdAt: 0,
    expiresAt: 1,
  };
  contents.reservations.set('r1', held);
  const entry = (seq: number, userId: string, quantity = 1, offered = 0): WaitlistRecord => ({
    scheduleId: 's1',
    userId,
    seq,
    quantity,
    offered,
    joinedAt: 0,
  });
  contents.waitlist.set('1', entry(1, 'ann', 2, 1));
  contents.waitlist.set('2', entry(2, 'dan'));
  return { contents, entry };
}

test('a sold-out date with users waiting is consistent', (t) => {
  t.deepEqual(invariantViolations(soldOut().contents), []);
});

test('an entry offered all it asked (or more) is a violation: it should be gone', (t) => {
  const { contents, entry } = soldOut();
  contents.waitlist.set('1', entry(1, 'ann', 2, 2));
  contents.waitlist.set('2', entry(2, 'dan', 1, 3));
  t.deepEqual(invariantViolations(contents), [
    'the waitlist entry of ann on s1 was offered 2 of 2',
    'the waitlist entry of dan on s1 was offered 3 of 1',
  ]);
});

test('two entries of one user on one date are a violation', (t) => {
  const { contents, entry } = soldOut();
  contents.waitlist.set('3', entry(3, 'dan'));
  t.deepEqual(invariantViolations(contents), ['dan is on the waitlist of s1 twice']);
});

test('a seat for sale while users wait is a violation: freed seats go to the waitlist first', (t) => {
  const { contents } = soldOut();
  contents.reservations.set('r1', { ...contents.reservations.get('r1')!, status: 'expired' });
  t.deepEqual(invariantViolations(contents), [
    'schedule s1 has 2 seats for sale while users wait for one',
  ]);
});
