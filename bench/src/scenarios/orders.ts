/**
 * Orders through HTTP (issue 22): best-available pairs on a 100,000-seat date and 10,000 users
 * racing for pairs on 1,000 seats, beside the one-seat hold they are measured against (a
 * successful hold on a date of the same size and shape).
 */
import type { ScheduleInput } from '@usher/engine';
import type { HttpScenario, ScenarioResult } from '../http/scenario.js';
import { check, type Ledger } from './invariants.js';
import type { User } from './http.js';

export const BIG = 100_000;
export const RACE_SEATS = 1_000;
/** Rows of 100 seats; VIP the first tenth, R up to half, S the rest. */
export const ROW = 100;

const date = (id: string, totalSeats: number, day: number): ScheduleInput => ({
  id,
  concertId: 'bench',
  startsAt: `2027-02-${String(day).padStart(2, '0')}T19:00:00Z`,
  totalSeats,
  prices: [
    { from: 1, to: totalSeats / 10, price: 3_000, name: 'VIP' },
    { from: totalSeats / 10 + 1, to: totalSeats / 2, price: 2_000, name: 'R' },
    { from: totalSeats / 2 + 1, to: totalSeats, price: 1_000, name: 'S' },
  ],
  seatsPerRow: ROW,
});

/** The dates of the three rows of {@link orders}' `scenarios`, in order. */
export const ORDER_DATES = ['hold-100000', 'pairs-100000', 'pairs-R-100000'] as const;

/** The orders rows' dates, in the bench catalog. */
export const ordersSchedules: ScheduleInput[] = [
  date('hold-100000', BIG, 1),
  date('pairs-100000', BIG, 2),
  date('pairs-R-100000', BIG, 3),
  date('race-1000', RACE_SEATS, 4),
];

/**
 * The server's order limits for the bench: its users hold many seats over the run (the default
 * is 4 holds and 4 seats a date per user).
 */
export const ORDERS_ENV = { MAX_HOLDS_PER_USER: '100', MAX_TICKETS_PER_USER: '10000' };

const auth = (user: User) => ({ authorization: `Bearer ${user.token}` });

interface Answered {
  readonly id: string;
  readonly seats: readonly { seatNo: number; category?: string }[];
}

/**
 * The orders rows (`requests`: how many each of the first three sends; `seconds`: the race's run).
 * `pairs` collects the pairs held, by date, for {@link checkPairs}.
 */
export function orders(
  users: readonly User[],
  requests: number,
  seconds: number,
  ledger: Ledger,
): { scenarios: HttpScenario[]; race: HttpScenario; pairs: Map<string, Answered[]> } {
  const pairs = new Map<string, Answered[]>();
  const user = (i: number) => users[i % users.length]!;
  const kept = (scheduleId: string) => (status: number, body: string) => {
    if (status !== 201) return;
    const reservation = JSON.parse(body) as Answered;
    ledger.hold(scheduleId, reservation.id);
    if (scheduleId === 'hold-100000') return;
    let list = pairs.get(scheduleId);
    if (!list) pairs.set(scheduleId, (list = []));
    list.push(reservation);
  };
  const pair = (scheduleId: string, category?: string) => ({
    scheduleId,
    quantity: 2,
    together: true,
    ...(category ? { category } : {}),
  });
  const scenarios: HttpScenario[] = [
    {
      name: `hold: one seat (seatNo) of ${BIG.toLocaleString('en')}`,
      baseline: 'koa-post',
      limit: { requests },
      request: (i) => ({
        method: 'POST',
        path: '/reservations',
        headers: auth(user(i)),
        // Scattered over the date, each seat once.
        body: { scheduleId: 'hold-100000', seatNo: ((i * 7_919) % BIG) + 1 },
      }),
      onResponse: kept('hold-100000'),
    },
    ...(
      [
        ['pairs-100000', undefined],
        ['pairs-R-100000', 'R'],
      ] as const
    ).map(([scheduleId, category]): HttpScenario => ({
      name: `best available: pairs${category ? ` of category ${category}` : ''} of ${BIG.toLocaleString('en')} seats`,
      baseline: 'koa-post',
      limit: { requests },
      request: (i) => ({
        method: 'POST',
        path: '/reservations',
        headers: auth(user(i)),
        body: pair(scheduleId, category),
      }),
      onResponse: kept(scheduleId),
    })),
  ];
  const race: HttpScenario = {
    name: `best available: ${users.length.toLocaleString('en')} users racing for pairs on ${RACE_SEATS.toLocaleString('en')} seats`,
    baseline: 'koa-post',
    limit: { seconds },
    request: (i) => ({
      method: 'POST',
      path: '/reservations',
      headers: auth(user((i * 7_919) % users.length)),
      body: pair('race-1000'),
    }),
    onResponse: kept('race-1000'),
  };
  return { scenarios, race, pairs };
}

/** Every pair two consecutive seats of one row (of `category`), no seat in two of them; how many seats. */
export function checkPairs(name: string, held: readonly Answered[], category?: string): number {
  const taken = new Set<number>();
  for (const { seats } of held) {
    check(seats.length === 2, `${name}: a reservation of ${seats.length} seats`);
    const [a, b] = seats.map((seat) => seat.seatNo) as [number, number];
    check(
      b === a + 1 && Math.ceil(a / ROW) === Math.ceil(b / ROW),
      `${name}: a split pair ${a}, ${b}`,
    );
    for (const seat of seats) {
      check(!taken.has(seat.seatNo), `${name}: seat ${seat.seatNo} in two reservations`);
      check(
        category === undefined || seat.category === category,
        `${name}: seat ${seat.seatNo} is not ${category}`,
      );
      taken.add(seat.seatNo);
    }
  }
  return taken.size;
}

/** After a timed orders row: every request held (the first three) or the race's invariants. */
export async function checkOrders(
  url: string,
  user: User,
  result: ScenarioResult,
  expected: number,
  pairs: Map<string, Answered[]>,
  scheduleId: string,
  category?: string,
): Promise<void> {
  if (scheduleId !== 'race-1000') {
    check(
      result.answers['201'] === expected,
      `${result.name}: ${JSON.stringify(result.answers)}, ${expected} requests`,
    );
    if (scheduleId !== 'hold-100000')
      checkPairs(result.name, pairs.get(scheduleId) ?? [], category);
    return;
  }
  check(
    result.answers['201'] === RACE_SEATS / 2 &&
      Object.keys(result.answers).every((key) => /^(201|409 SEATS_UNAVAILABLE)$/.test(key)),
    `${result.name}: ${JSON.stringify(result.answers)}`,
  );
  check(
    checkPairs(result.name, pairs.get('race-1000') ?? []) === RACE_SEATS,
    `${result.name}: not every seat sold in pairs`,
  );
  const response = await fetch(`${url}/schedules/race-1000/seats`, { headers: auth(user) });
  const { seats: left } = (await response.json()) as { seats: unknown[] };
  check(left.length === 0, `${result.name}: ${left.length} seats still on sale`);
}
