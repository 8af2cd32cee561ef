import type { CatalogInput } from '@usher/engine';
import { behaviour } from './helpers/engines.js';
import { activeToken, catalog, rejects } from '@usher/testkit';

const concert = { id: 'c9', title: 'New Year' };
const schedule = {
  id: 's9',
  concertId: 'c9',
  startsAt: '2027-12-31T22:00:00Z',
  totalSeats: 3,
  price: 10,
};
const { price: _price, ...tiered } = schedule;

behaviour('loading the same catalog twice adds nothing the second time', async (t, kit) => {
  const { engine } = await kit.start({ catalog: null });
  t.deepEqual(await engine.loadCatalog(catalog), { concertsAdded: 2, schedulesAdded: 3 });
  t.deepEqual(await engine.loadCatalog(catalog), { concertsAdded: 0, schedulesAdded: 0 });
  t.deepEqual(await engine.loadCatalog({ concerts: [concert], schedules: [schedule] }), {
    concertsAdded: 1,
    schedulesAdded: 1,
  });
  const ann = await activeToken(engine, 'ann');
  t.deepEqual(await engine.listConcerts(ann), [
    { id: 'c1', title: 'Spring Concert', artist: 'IU', venue: 'Olympic Hall' },
    { id: 'c2', title: 'Autumn Concert' },
    { id: 'c9', title: 'New Year' },
  ]);
});

const invalid: [string, CatalogInput][] = [
  ['not arrays', { concerts: {}, schedules: [] } as unknown as CatalogInput],
  ['a concert without a title', { concerts: [{ id: 'x', title: '' }], schedules: [] }],
  ['a duplicate concert', { concerts: [concert, concert], schedules: [] }],
  ['an unknown concert', { concerts: [], schedules: [{ ...schedule, concertId: 'nope' }] }],
  [
    'a date that is not ISO 8601',
    { concerts: [concert], schedules: [{ ...schedule, startsAt: 'next friday' }] },
  ],
  ['zero seats', { concerts: [concert], schedules: [{ ...schedule, totalSeats: 0 }] }],
  [
    'a price that is not an integer',
    { concerts: [concert], schedules: [{ ...schedule, price: 9.5 }] },
  ],
  [
    'both price and prices',
    { concerts: [concert], schedules: [{ ...schedule, prices: [{ from: 1, to: 3, price: 1 }] }] },
  ],
  [
    'tiers with a gap',
    {
      concerts: [concert],
      schedules: [
        {
          ...tiered,
          prices: [
            { from: 1, to: 1, price: 5 },
            { from: 3, to: 3, price: 5 },
          ],
        },
      ],
    },
  ],
  [
    'tiers short of the last seat',
    { concerts: [concert], schedules: [{ ...tiered, prices: [{ from: 1, to: 2, price: 5 }] }] },
  ],
  ['an id too long', { concerts: [{ id: 'x'.repeat(129), title: 'T' }], schedules: [] }],
  ['an existing id with other data', { concerts: [{ id: 'c1', title: 'Renamed' }], schedules: [] }],
];

for (const [name, input] of invalid) {
  behaviour(`a catalog with ${name} is refused and nothing is added`, async (t, kit) => {
    const { engine } = await kit.start();
    await rejects(t, engine.loadCatalog(input), 'VALIDATION_FAILED');
    t.is((await engine.stats()).concerts, 2);
    t.is((await engine.stats()).schedules, 3);
  });
}
