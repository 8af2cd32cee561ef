import type { CatalogInput, Engine } from '@usher/engine';

/** Seats per date in the large states. */
export const SEATS_PER_DATE = 50_000;

/** One concert with `seats` seats in dates of 50,000, at one price. */
export function stadiumCatalog(seats: number, price = 99_000): CatalogInput {
  return {
    concerts: [{ id: 'big', title: 'Stadium Tour' }],
    schedules: Array.from({ length: Math.ceil(seats / SEATS_PER_DATE) }, (_, i) => ({
      id: `day-${i + 1}`,
      concertId: 'big',
      startsAt: '2027-07-01T10:00:00Z',
      totalSeats: Math.min(SEATS_PER_DATE, seats - i * SEATS_PER_DATE),
      price,
    })),
  };
}

/** The seat `i` (0-based) of a {@link stadiumCatalog}. */
export const stadiumSeat = (i: number) => ({
  scheduleId: `day-${Math.floor(i / SEATS_PER_DATE) + 1}`,
  seatNo: (i % SEATS_PER_DATE) + 1,
});

/** Issues tokens for `user-0 … user-(count-1)`, 10,000 at a time; answers the token strings. */
export async function issueMany(engine: Engine, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let from = 0; from < count; from += 10_000) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10_000, count - from) }, (_, i) =>
        engine.issueToken(`user-${from + i}`),
      ),
    );
    for (const { token } of batch) tokens.push(token.token);
  }
  return tokens;
}
