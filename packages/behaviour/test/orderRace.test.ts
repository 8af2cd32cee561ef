// SPEC §10's race: many users asking for best-available pairs on one schedule at once.
import { isEngineError, type UsherEngine } from '@usher/engine';
import { activeToken } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';
import { assertInvariants } from './helpers/invariants.js';

const USERS = 10_000;
const ROWS = 40;
const PER_ROW = 25;
/** Rows 1–8 are VIP: half the users ask for VIP, half for any category. */
const VIP_ROWS = 8;
const catalog = {
  concerts: [{ id: 'c1', title: 'Stadium' }],
  schedules: [
    {
      id: 'big',
      concertId: 'c1',
      startsAt: '2027-05-01T19:00:00+09:00',
      totalSeats: ROWS * PER_ROW,
      seatsPerRow: PER_ROW,
      prices: [
        { from: 1, to: VIP_ROWS * PER_ROW, price: 5_000, name: 'VIP' },
        { from: VIP_ROWS * PER_ROW + 1, to: ROWS * PER_ROW, price: 2_000, name: 'R' },
      ],
    },
  ],
};

async function tokensFor(engine: UsherEngine, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(await activeToken(engine, `u${i}`));
  return tokens;
}

const rowOf = (seatNo: number) => Math.ceil(seatNo / PER_ROW);

behaviour(
  `${USERS.toLocaleString('en')} users racing for best-available pairs on one schedule: each seat in one live reservation at most, no split pair, the sold count exact`,
  async (t, kit) => {
    const { engine } = await kit.start({
      config: {
        queueMaxActive: USERS,
        queueAdmitPerTick: USERS,
        queueTickMs: 3_600_000,
        holdSweepMs: 3_600_000,
      },
      catalog,
    });
    const tokens = await tokensFor(engine, USERS);
    const answers = await Promise.all(
      tokens.map((token, i) =>
        engine
          .reserve(token, {
            scheduleId: 'big',
            quantity: 2,
            ...(i % 2 === 0 ? { category: 'VIP' } : {}),
          })
          .then(
            (reservation) => ({ ok: true as const, reservation, vip: i % 2 === 0 }),
            (error: unknown) => {
              if (!isEngineError(error)) throw error;
              return { ok: false as const, code: error.code };
            },
          ),
      ),
    );
    const held = answers.flatMap((answer) => (answer.ok ? [answer] : []));
    const refused = answers.flatMap((answer) => (answer.ok ? [] : [answer.code]));
    t.deepEqual([...new Set(refused)], ['SEATS_UNAVAILABLE']);
    // Blocks are taken lowest first, so each row of 25 ends with 12 pairs and one seat left.
    const pairsPerRow = Math.floor(PER_ROW / 2);
    t.is(held.length, ROWS * pairsPerRow, 'the sold count is exact');
    const seen = new Set<number>();
    for (const { reservation, vip } of held) {
      const [a, b] = reservation.seats.map(({ seatNo }) => seatNo) as [number, number];
      t.true(b === a + 1 && rowOf(a) === rowOf(b), `a pair of one row, not ${a} and ${b}`);
      if (vip) t.true(rowOf(a) <= VIP_ROWS, `a VIP pair, not ${a}`);
      t.false(seen.has(a) || seen.has(b), `seat ${a} or ${b} sold twice`);
      seen.add(a).add(b);
    }
    const stats = await engine.stats();
    t.is(stats.heldSeats, ROWS * pairsPerRow * 2);
    t.is(stats.reservations, held.length);
    assertInvariants(t, await kit.durable());
  },
);
