import { runScenario, type HttpScenario, type ScenarioResult } from '../http/scenario.js';
import { check, type Ledger } from './invariants.js';
import { PRICE } from './usherServer.js';

export interface User {
  readonly userId: string;
  readonly token: string;
}

const auth = (user: User) => ({ authorization: `Bearer ${user.token}` });
/** A scattered but repeatable choice: request `i` of a scenario always picks the same entry. */
const pick = <T>(list: readonly T[], i: number): T =>
  list[(Math.imul(i, 2_654_435_761) >>> 0) % list.length]!;

/** Issues `count` tokens (active: the bench server admits 20,000 at once); `connections`: of the load generator (fewer for a server under valgrind). */
export async function provisionUsers(
  url: string,
  count: number,
  prefix: string,
  connections = 100,
): Promise<User[]> {
  const users: User[] = new Array(count);
  const result = await runScenario(
    url,
    {
      name: 'provision',
      baseline: 'koa-post',
      limit: { requests: count },
      request: (i) => ({
        method: 'POST',
        path: '/queue/tokens',
        body: { userId: `${prefix}-${i}` },
      }),
      onResponse: (status, body, i) => {
        if (status === 201)
          users[i] = {
            userId: `${prefix}-${i}`,
            token: (JSON.parse(body) as { token: string }).token,
          };
      },
    },
    { connections },
  );
  check(
    result.answers['201'] === count,
    `provisioning ${count} users: ${JSON.stringify(result.answers)}`,
  );
  return users;
}

export function browse(users: readonly User[], seconds: number): HttpScenario[] {
  return [
    {
      name: 'browse: GET /schedules/:id/seats',
      baseline: 'koa-get',
      limit: { seconds },
      request: (i) => ({
        method: 'GET',
        path: '/schedules/browse/seats',
        headers: auth(pick(users, i)),
      }),
    },
    {
      name: 'browse: GET /concerts/:id/schedules',
      baseline: 'koa-get',
      limit: { seconds },
      request: (i) => ({
        method: 'GET',
        path: '/concerts/bench/schedules',
        headers: auth(pick(users, i)),
      }),
    },
  ];
}

/** Each user holds `perUser` seats of the `checkout` date, made before the measurement. */
export async function provisionHolds(
  url: string,
  users: readonly User[],
  perUser: number,
  ledger: Ledger,
): Promise<Hold[]> {
  const holds: Hold[] = [];
  const count = users.length * perUser;
  const result = await runScenario(url, {
    name: 'provision holds',
    baseline: 'koa-post',
    limit: { requests: count },
    request: (i) => ({
      method: 'POST',
      path: '/reservations',
      headers: auth(users[i % users.length]!),
      body: { scheduleId: 'checkout', seatNo: i + 1 },
    }),
    onResponse: (status, body, i) => {
      if (status !== 201) return;
      const reservationId = (JSON.parse(body) as { id: string }).id;
      ledger.hold('checkout', reservationId);
      holds.push({ user: users[i % users.length]!, reservationId });
    },
  });
  check(
    result.answers['201'] === count,
    `provisioning ${count} holds: ${JSON.stringify(result.answers)}`,
  );
  return holds;
}

export interface Hold {
  readonly user: User;
  readonly reservationId: string;
}

/** Every request a `POST /reservations` on one of `seats` seats, by a random user of `users`; `holds` fills with the winners. */
export function contention(
  users: readonly User[],
  seats: number,
  seconds: number,
  ledger: Ledger,
): { scenario: HttpScenario; holds: Hold[] } {
  const scheduleId = `contention-${seats}`;
  const holds: Hold[] = [];
  const scenario: HttpScenario = {
    name: `contention: ${users.length.toLocaleString('en')} users, ${seats.toLocaleString('en')} seats`,
    baseline: 'koa-post',
    limit: { seconds },
    // Seats visited in a scattered cycle: every seat is asked for within each `seats` requests.
    request: (i) => ({
      method: 'POST',
      path: '/reservations',
      headers: auth(pick(users, i)),
      body: { scheduleId, seatNo: ((i * 7_919) % seats) + 1 },
    }),
    onResponse: (status, body, i) => {
      if (status !== 201) return;
      const reservationId = (JSON.parse(body) as { id: string }).id;
      ledger.hold(scheduleId, reservationId);
      holds.push({ user: pick(users, i), reservationId });
    },
  };
  return { scenario, holds };
}

/** After a contention run: exactly one hold per seat was acknowledged, and none is left on sale. */
export async function checkContention(
  url: string,
  user: User,
  result: ScenarioResult,
  seats: number,
): Promise<void> {
  check(
    result.answers['201'] === seats,
    `${result.name}: ${result.answers['201'] ?? 0} holds for ${seats} seats: ${JSON.stringify(result.answers)}`,
  );
  check(
    Object.keys(result.answers).every((key) =>
      /^(201|409 (SEAT_UNAVAILABLE|HOLD_LIMIT_REACHED))$/.test(key),
    ),
    `${result.name}: ${JSON.stringify(result.answers)}`,
  );
  const response = await fetch(`${url}/schedules/contention-${seats}/seats`, {
    headers: auth(user),
  });
  const { seats: left } = (await response.json()) as { seats: unknown[] };
  check(left.length === 0, `${result.name}: ${left.length} seats still on sale`);
}

export function tokenStorm(
  seconds: number,
  prefix = 'storm',
): { issue: HttpScenario; poll: HttpScenario } {
  const issued: string[] = [];
  const issue: HttpScenario = {
    name: 'token storm: POST /queue/tokens',
    baseline: 'koa-post',
    limit: { seconds },
    request: (i) => ({ method: 'POST', path: '/queue/tokens', body: { userId: `${prefix}-${i}` } }),
    onResponse: (status, body) => {
      if (status === 201) issued.push((JSON.parse(body) as { token: string }).token);
    },
  };
  const poll: HttpScenario = {
    name: 'token storm: GET /queue/tokens/current',
    baseline: 'koa-get',
    limit: { seconds },
    request: (i) => ({
      method: 'GET',
      path: '/queue/tokens/current',
      headers: { authorization: `Bearer ${pick(issued, i)}` },
    }),
  };
  return { issue, poll };
}

export const CHARGE = 10_000;

/** Charges users round-robin, `first` before the others (the holders, so that every hold can be paid). */
export function charge(
  first: readonly User[],
  others: readonly User[],
  seconds: number,
  ledger: Ledger,
): HttpScenario {
  const firstByUser = new Map(first.map((user) => [user.userId, user]));
  const users = [
    ...firstByUser.values(),
    ...others.filter((user) => !firstByUser.has(user.userId)),
  ];
  return {
    name: 'checkout: POST /users/:id/balance/charge',
    baseline: 'koa-post',
    limit: { seconds },
    retryUnanswered: true,
    request: (i) => {
      const user = users[i % users.length]!;
      return {
        method: 'POST',
        path: `/users/${user.userId}/balance/charge`,
        headers: { ...auth(user), 'idempotency-key': `charge-${i}` },
        body: { amount: CHARGE },
      };
    },
    onResponse: (status, _body, i) => {
      if (status === 200) ledger.charge(users[i % users.length]!.userId, CHARGE);
    },
  };
}

/**
 * Tops up every holder whose acknowledged charges do not cover their holds
 * (unmeasured): the timed charge run reaches every holder only on a fast
 * enough machine, and the payment run must be able to pay every hold.
 */
export async function fundHolders(
  url: string,
  holds: readonly Hold[],
  ledger: Ledger,
  connections = 100,
): Promise<void> {
  const owed = new Map<string, { user: User; amount: number }>();
  for (const { user } of holds) {
    const entry = owed.get(user.userId) ?? {
      user,
      amount: -(ledger.charged.get(user.userId) ?? 0),
    };
    entry.amount += PRICE;
    owed.set(user.userId, entry);
  }
  const short = [...owed.values()].filter((entry) => entry.amount > 0);
  if (short.length === 0) return;
  const result = await runScenario(
    url,
    {
      name: 'fund holders',
      baseline: 'koa-post',
      limit: { requests: short.length },
      retryUnanswered: true,
      request: (i) => ({
        method: 'POST',
        path: `/users/${short[i]!.user.userId}/balance/charge`,
        headers: { ...auth(short[i]!.user), 'idempotency-key': `fund-${short[i]!.user.userId}` },
        body: { amount: Math.ceil(short[i]!.amount / CHARGE) * CHARGE },
      }),
      onResponse: (status, _body, i) => {
        if (status === 200)
          ledger.charge(short[i]!.user.userId, Math.ceil(short[i]!.amount / CHARGE) * CHARGE);
      },
    },
    { connections },
  );
  check(
    result.answers['200'] === short.length,
    `funding ${short.length} holders: ${JSON.stringify(result.answers)}`,
  );
}

export function pay(holds: readonly Hold[], ledger: Ledger): HttpScenario {
  return {
    name: 'checkout: POST /payments',
    baseline: 'koa-post',
    limit: { requests: holds.length },
    retryUnanswered: true,
    request: (i) => ({
      method: 'POST',
      path: '/payments',
      headers: { ...auth(holds[i]!.user), 'idempotency-key': `pay-${holds[i]!.reservationId}` },
      body: { reservationId: holds[i]!.reservationId },
    }),
    onResponse: (status, body, i) => {
      if (status === 201)
        ledger.pay(holds[i]!.user.userId, (JSON.parse(body) as { id: string }).id, PRICE);
    },
  };
}
