import test from 'ava';
import { emptyContents, invariantViolations, type ReservationRecord } from '@usher/engine';

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
