import test from 'ava';
import {
  emptyContents,
  invariantViolations,
  type ReservationRecord,
  type TicketRecord,
} from '@usher/engine';

const reservation = (
  id: string,
  seatNo: number,
  status: ReservationRecord['status'],
  userId = 'ann',
  price = 100,
): ReservationRecord => ({
  id,
  userId,
  scheduleId: 's1',
  seatNo,
  price,
  status,
  createdAt: 0,
  expiresAt: 1,
});

function consistent() {
  const contents = emptyContents();
  contents.reservations.set('r1', reservation('r1', 1, 'paid'));
  contents.reservations.set('r2', reservation('r2', 2, 'held'));
  contents.reservations.set('r3', reservation('r3', 1, 'expired'));
  contents.payments.set('p1', {
    id: 'p1',
    reservationId: 'r1',
    userId: 'ann',
    amount: 100,
    balance: 50,
    createdAt: 0,
  });
  contents.wallets.set('ann', { userId: 'ann', balance: 50, charged: 150, paid: 100 });
  return contents;
}

test('consistent contents have no violations; an ended reservation on a sold seat is no claim', (t) => {
  t.deepEqual(invariantViolations(consistent()), []);
});

test('every broken invariant is reported', (t) => {
  const cases: [string, (contents: ReturnType<typeof consistent>) => void, RegExp][] = [
    [
      'a seat held twice',
      (c) => c.reservations.set('r4', reservation('r4', 2, 'held', 'bob')),
      /seat s1#2 is claimed by r2 and r4/,
    ],
    [
      'a reservation paid twice',
      (c) =>
        c.payments.set('p2', {
          id: 'p2',
          reservationId: 'r1',
          userId: 'ann',
          amount: 100,
          balance: 50,
          createdAt: 0,
        }),
      /paid twice/,
    ],
    [
      'a payment of a held reservation',
      (c) =>
        c.payments.set('p3', {
          id: 'p3',
          reservationId: 'r2',
          userId: 'ann',
          amount: 100,
          balance: 0,
          createdAt: 0,
        }),
      /which is held/,
    ],
    [
      'a paid reservation without a payment',
      (c) => c.payments.delete('p1'),
      /paid without a payment/,
    ],
    [
      'a negative balance',
      (c) => c.wallets.set('ann', { userId: 'ann', balance: -50, charged: 50, paid: 100 }),
      /balance of ann is -50/,
    ],
    [
      'a wallet that does not balance',
      (c) => c.wallets.set('ann', { userId: 'ann', balance: 60, charged: 150, paid: 100 }),
      /does not balance/,
    ],
    [
      'payments that do not add up',
      (c) => c.wallets.set('ann', { userId: 'ann', balance: 0, charged: 200, paid: 200 }),
      /add up to 100/,
    ],
    ['a payer without a wallet', (c) => c.wallets.delete('ann'), /ann paid without a wallet/],
  ];
  for (const [name, damage, message] of cases) {
    const contents = consistent();
    damage(contents);
    const violations = invariantViolations(contents);
    t.true(
      violations.some((violation) => message.test(violation)),
      `${name}: ${JSON.stringify(violations)}`,
    );
  }
});

/** SPEC §11: r1's seat 1 was transferred to bob, who refunded it, and r5 (cy) bought it again. */
function withTickets() {
  const contents = consistent();
  const ticket = (id: string, holder: string, status: TicketRecord['status'], extra = {}) => ({
    id,
    reservationId: 'r1',
    scheduleId: 's1',
    concertId: 'c1',
    seatNo: 1,
    price: 100,
    holder,
    status,
    createdAt: 0,
    ...extra,
  });
  contents.tickets.set('r1-1', ticket('r1-1', 'ann', 'transferred', { transferredTo: 't2' }));
  contents.tickets.set('t2', ticket('t2', 'bob', 'refunded', { transferredFrom: 'r1-1' }));
  contents.wallets.set('bob', { userId: 'bob', balance: 100, charged: 0, paid: 0, refunded: 100 });
  contents.reservations.set('r5', reservation('r5', 1, 'paid', 'cy'));
  contents.payments.set('p5', {
    id: 'p5',
    reservationId: 'r5',
    userId: 'cy',
    amount: 100,
    balance: 0,
    createdAt: 0,
  });
  contents.wallets.set('cy', { userId: 'cy', balance: 0, charged: 100, paid: 100 });
  contents.tickets.set('r5-1', { ...ticket('r5-1', 'cy', 'checked_in'), reservationId: 'r5' });
  return contents;
}

test('tickets: a seat refunded and sold again, a transfer, a check-in are consistent', (t) => {
  t.deepEqual(invariantViolations(withTickets()), []);
});

test('every broken ticket invariant is reported', (t) => {
  const cases: [string, (contents: ReturnType<typeof withTickets>) => void, RegExp][] = [
    [
      'a refund not in the wallet',
      (c) => c.wallets.set('bob', { userId: 'bob', balance: 0, charged: 0, paid: 0 }),
      /refunded tickets of bob add up to 100/,
    ],
    [
      'a wallet with refunds that do not balance',
      (c) =>
        c.wallets.set('bob', { userId: 'bob', balance: 150, charged: 0, paid: 0, refunded: 100 }),
      /does not balance/,
    ],
    [
      'a refunded seat still sold as its ticket',
      (c) => c.tickets.set('t2', { ...c.tickets.get('t2')!, status: 'valid' }),
      /seat s1#1 is claimed by r1 and r5|valid ticket t2 is of a seat its reservation lost/,
    ],
    [
      'two valid tickets of one seat',
      (c) => {
        const { transferredTo: _, ...given } = c.tickets.get('r1-1')!;
        c.tickets.set('r1-1', { ...given, status: 'valid' });
      },
      /has 2 tickets not transferred/,
    ],
    [
      'a transferred ticket checked in',
      (c) => c.tickets.set('r1-1', { ...c.tickets.get('r1-1')!, checkedInAt: 5 }),
      /transferred ticket r1-1 was checked in/,
    ],
    [
      'a transfer without its successor',
      (c) => c.tickets.set('r1-1', { ...c.tickets.get('r1-1')!, transferredTo: 'nope' }),
      /names no successor/,
    ],
    [
      'a ticket of a held reservation',
      (c) =>
        c.tickets.set('x', { ...c.tickets.get('r5-1')!, id: 'x', reservationId: 'r2', seatNo: 2 }),
      /ticket x is not of a seat of a paid reservation/,
    ],
    [
      'a ticket at another price',
      (c) => c.tickets.set('r5-1', { ...c.tickets.get('r5-1')!, price: 99 }),
      /costs 99/,
    ],
    [
      'a seat of a paid reservation with tickets but none at the end of its chain',
      (c) => c.tickets.delete('t2'),
      /seat 1 of paid reservation r1 has 0 tickets not transferred/,
    ],
  ];
  for (const [name, damage, message] of cases) {
    const contents = withTickets();
    damage(contents);
    const violations = invariantViolations(contents);
    t.true(
      violations.some((violation) => message.test(violation)),
      `${name}: ${JSON.stringify(violations)}`,
    );
  }
});
