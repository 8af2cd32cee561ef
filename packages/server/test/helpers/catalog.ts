import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

/**
 * A catalog of one seat (schedule `tiny-1` of concert `tiny`, 50,000), written
 * to a folder of its own that goes when the test ends: its path, for
 * `CATALOG`. One payment sells it out.
 */
export async function oneSeatCatalog(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-catalog-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'one-seat.json');
  await writeFile(
    path,
    JSON.stringify({
      concerts: [{ id: 'tiny', title: 'Tiny Hall' }],
      schedules: [
        {
          id: 'tiny-1',
          concertId: 'tiny',
          startsAt: '2027-05-01T19:00:00+09:00',
          totalSeats: 1,
          price: 50_000,
        },
      ],
    }),
  );
  return path;
}
