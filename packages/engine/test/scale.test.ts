import test from 'ava';
import type { CatalogInput, Engine } from '@usher/engine';
import { startEngine } from './helpers/fixture.js';

const WAITING = 1_000_000;
const SCHEDULES = 20;
const SEATS_PER_SCHEDULE = 50_000;
const MAX_ACTIVE = 1_000;

const bigCatalog: CatalogInput = {
  concerts: [{ id: 'big', title: 'Stadium Tour' }],
  schedules: Array.from({ length: SCHEDULES }, (_, i) => ({
    id: `day-${i + 1}`,
    concertId: 'big',
    startsAt: new Date(Date.UTC(2027, 6, i + 1, 10)).toISOString(),
    totalSeats: SEATS_PER_SCHEDULE,
    prices: [
      { from: 1, to: 5_000, price: 220_000 },
      { from: 5_001, to: SEATS_PER_SCHEDULE, price: 99_000 },
    ],
  })),
};

async function issueMany(engine: Engine, from: number, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const batch = 10_000;
  for (let start = from; start < from + count; start += batch) {
    const chunk = Array.from({ length: Math.min(batch, from + count - start) }, (_, i) =>
      engine.issueToken(`user-${start + i}`),
    );
    for (const { token } of await Promise.all(chunk)) tokens.push(token.token);
  }
  return tokens;
}

test('one engine holds 1,000,000 waiting tokens and 1,000,000 seats, ranks the last and admits the next 1,000 in order', async (t) => {
  const { engine, clock } = await startEngine({
    catalog: bigCatalog,
    config: {
      queueMaxActive: MAX_ACTIVE,
      queueAdmitPerTick: MAX_ACTIVE,
      queueTickMs: 86_400_000,
      holdSweepMs: 86_400_000,
      queueWaitingTtlMs: 86_400_000,
      tokenActiveTtlMs: 600_000,
    },
  });
  const active = await issueMany(engine, 0, MAX_ACTIVE);
  const waiting = await issueMany(engine, MAX_ACTIVE, WAITING);
  const stats = await engine.stats();
  t.is(stats.activeTokens, MAX_ACTIVE);
  t.is(stats.waitingTokens, WAITING);

  const last = await engine.getToken(waiting.at(-1)!);
  t.is(last.status, 'waiting');
  t.is(last.position, WAITING);
  t.is((await engine.getToken(waiting[0]!)).position, 1);

  const schedules = await engine.listSchedules(active[0]!, 'big');
  t.is(
    schedules.reduce((sum, schedule) => sum + schedule.totalSeats, 0),
    SCHEDULES * SEATS_PER_SCHEDULE,
  );
  const hold = await engine.reserve(active[0]!, {
    scheduleId: 'day-20',
    seatNo: SEATS_PER_SCHEDULE,
  });
  t.is(hold.price, 99_000);
  t.is((await engine.listSeats(active[0]!, 'day-20')).seats.length, SEATS_PER_SCHEDULE - 1);

  // The first thousand use up their time; one tick admits the next thousand, first come first served.
  clock.increment(600_000);
  t.deepEqual(await engine.tick(), {
    admitted: MAX_ACTIVE,
    waiting: WAITING - MAX_ACTIVE,
    active: MAX_ACTIVE,
  });
  const admitted = await Promise.all(
    waiting.slice(0, MAX_ACTIVE + 1).map((token) => engine.getToken(token)),
  );
  t.true(admitted.slice(0, MAX_ACTIVE).every((token) => token.status === 'active'));
  t.deepEqual([admitted[MAX_ACTIVE]!.status, admitted[MAX_ACTIVE]!.position], ['waiting', 1]);
  t.is((await engine.getToken(waiting.at(-1)!)).position, WAITING - MAX_ACTIVE);
  t.is((await engine.stats()).heldSeats, 0, 'the hold expired with its deadline');
  await engine.close();
});
