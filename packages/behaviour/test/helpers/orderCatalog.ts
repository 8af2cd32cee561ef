import type { CatalogInput } from '@usher/engine';

/**
 * A catalog with rows and categories (SPEC §10): `rows` is 4 rows of 5 seats,
 * row 1 `VIP` (5,000), rows 2–3 `R` (3,000), row 4 `S` (1,000) but its last
 * seat, an unnamed tier (500); `flat` is 10 seats in one row, no categories.
 */
export const orderCatalog: CatalogInput = {
  concerts: [{ id: 'c1', title: 'Spring Concert' }],
  schedules: [
    {
      id: 'rows',
      concertId: 'c1',
      startsAt: '2027-05-01T19:00:00+09:00',
      totalSeats: 20,
      seatsPerRow: 5,
      prices: [
        { from: 1, to: 5, price: 5_000, name: 'VIP' },
        { from: 6, to: 15, price: 3_000, name: 'R' },
        { from: 16, to: 19, price: 1_000, name: 'S' },
        { from: 20, to: 20, price: 500 },
      ],
    },
    {
      id: 'flat',
      concertId: 'c1',
      startsAt: '2027-05-02T19:00:00+09:00',
      totalSeats: 10,
      price: 1_000,
    },
  ],
};
