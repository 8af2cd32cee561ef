import test from 'ava';
import { defaultConfig, type ReservationRecord, type WaitlistRecord } from '@usher/engine';
import {
  decideOffers,
  lifecyclesFor,
  priceOf,
  categoryOf,
  seatsFreedBy,
  type StateChange,
} from '@usher/engine/rules';

const lifecycles = lifecyclesFor(defaultConfig);
const prices = [
  { from: 1, to: 2, price: 3_000, name: 'VIP' },
  { from: 3, to: 6, price: 2_000 },
];
const schedule = {
  id: 's1',
  totalSeats: 6,
  priceOf: (seatNo: number) => priceOf(prices, seatNo),
  categoryOf: (seatNo: number) => categoryOf(prices, seatNo),
};
const entry = (seq: number, userId: string, quantity: number, offered = 0): WaitlistRecord => ({
  scheduleId: 's1',
  userId,
  seq,
  quantity,
  offered,
  joinedAt: 0,
});
const ids = () => {
  let n = 0;
  return () => `o${++n}`;
};
const holds = (changes: StateChange[]) =>
  changes.flatMap((change) =>
    change.type === 'reservationHeld' ? [change.reservation] : [],
  ) as ReservationRecord[];

test('decideOffers: entries in seq order, one hold each of min(still wanted, left), lowest seats first', (t) => {
  const entries = [entry(7, 'dan', 2), entry(3, 'ann', 3, 1), entry(9, 'eve', 1)];
  const changes = decideOffers(
    { scheduleId: 's1', seatNos: [5, 1, 3] },
    entries,
    schedule,
    1_000,
    lifecycles,
    ids(),
  );
  t.deepEqual(
    changes.map((change) => change.type),
    ['reservationHeld', 'waitlistOffered', 'reservationHeld', 'waitlistOffered'],
  );
  const [ann, dan] = holds(changes);
  t.like(ann, {
    id: 'o1',
    userId: 'ann',
    scheduleId: 's1',
    seatNo: 1,
    price: 3_000,
    amount: 5_000,
    status: 'held',
    createdAt: 1_000,
    expiresAt: 1_000 + defaultConfig.holdTtlMs,
    origin: 'waitlist',
  });
  t.deepEqual(ann!.seats, [
    { seatNo: 1, price: 3_000, category: 'VIP' },
    { seatNo: 3, price: 2_000 },
  ]);
  t.like(dan, { userId: 'dan', seatNo: 5, amount: 2_000, origin: 'waitlist' });
  t.like(changes[1], { userId: 'ann', reservationId: 'o1', seats: 2 });
  t.like(changes[3], { userId: 'dan', reservationId: 'o2', seats: 1 });
});

test('decideOffers: nobody waiting, other dates and fulfilled entries offer nothing', (t) => {
  t.deepEqual(
    decideOffers({ scheduleId: 's1', seatNos: [1] }, [], schedule, 0, lifecycles, ids()),
    [],
  );
  const others = [{ ...entry(1, 'ann', 1), scheduleId: 's2' }, entry(2, 'dan', 1, 1)];
  t.deepEqual(
    decideOffers({ scheduleId: 's1', seatNos: [1] }, others, schedule, 0, lifecycles, ids()),
    [],
  );
});

test('seatsFreedBy: an ended hold frees its seats together; refunds by date; payments free nothing', (t) => {
  const hold: ReservationRecord = {
    id: 'r1',
    userId: 'bob',
    scheduleId: 's1',
    seatNo: 2,
    price: 3_000,
    seats: [
      { seatNo: 2, price: 3_000 },
      { seatNo: 4, price: 2_000 },
    ],
    amount: 5_000,
    status: 'held',
    createdAt: 0,
    expiresAt: 1,
  };
  const find = (id: string) => (id === 'r1' ? hold : undefined);
  t.deepEqual(
    seatsFreedBy(
      [
        { type: 'reservationEnded', id: 'r1', status: 'expired', at: 1 },
        { type: 'reservationEnded', id: 'r9', status: 'paid', at: 1 },
        { type: 'seatFreed', scheduleId: 's2', seatNo: 3, reservationId: 'r7', cause: 'refund' },
      ],
      find,
    ),
    [
      { scheduleId: 's1', seatNos: [2, 4] },
      { scheduleId: 's2', seatNos: [3] },
    ],
  );
});
