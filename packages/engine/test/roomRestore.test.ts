import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { LowdbStore } from '@usher/engine/lowdb';
import { simulatedClock, START, startEngine } from './helpers/fixture.js';
import { places } from './helpers/places.js';

const config = {
  queueMaxActive: 1,
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  tokenActiveTtlMs: 86_400_000,
  queueWaitingTtlMs: 86_400_000,
};
const OPENS_AT = START + 60_000;

for (const [name, at] of Object.entries(places)) {
  test(`${name}: the room's settings, its admitted total and the opening's draw survive a restart`, async (t) => {
    const place = await at(t);
    const { engine, clock } = await startEngine({ store: place.open(), config });
    await engine.issueToken('holder');
    await engine.updateRoom({ opensAt: new Date(OPENS_AT).toISOString(), admitPerTick: 4 });
    const tokens = [];
    for (let i = 0; i < 40; i++) tokens.push((await engine.issueToken(`u${i}`)).token.token);
    clock.set(OPENS_AT);
    await engine.tick();
    const drawn = await Promise.all(
      tokens.map(async (token) => (await engine.getToken(token)).position),
    );
    const room = await engine.room();
    await engine.close();

    const { engine: restarted } = await startEngine({
      store: place.open(),
      config,
      clock: simulatedClock(OPENS_AT),
      catalog: null,
    });
    t.deepEqual(await restarted.room(), room);
    t.deepEqual(
      await Promise.all(tokens.map(async (token) => (await restarted.getToken(token)).position)),
      drawn,
    );
    await restarted.close();
  });
}

test('a lowdb folder from before the room (a snapshot without its collections) opens with the configured room', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'usher-room-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new LowdbStore(dir);
  const { engine } = await startEngine({ store, config: { ...config, queueMaxActive: 2 } });
  await engine.issueToken('ann');
  await engine.issueToken('bob');
  await engine.issueToken('cat');
  await store.compact();
  await engine.close();
  // Rewrite the snapshot as an older version wrote it: format 1 (no checksum), none of the room's collections.
  const [snapshot] = (await readdir(dir)).filter((file) => file.startsWith('snapshot-'));
  const document = JSON.parse(await readFile(join(dir, snapshot!), 'utf8'));
  t.truthy(document.collections.room, 'this version writes the room');
  delete document.collections.room;
  delete document.collections.counters;
  delete document.crc32;
  document.format = 'usher-snapshot/1';
  await writeFile(join(dir, snapshot!), JSON.stringify(document));

  const { engine: reopened } = await startEngine({
    store: new LowdbStore(dir),
    config: { ...config, queueMaxActive: 2 },
    catalog: null,
  });
  t.deepEqual(await reopened.room(), {
    paused: false,
    admitPerTick: 100,
    maxActive: 2,
    opensAt: null,
    shuffle: true,
    waiting: 1,
    active: 2,
    admittedTotal: 0, // the count starts with the version that keeps it
    soldOut: false,
  });
  await reopened.close();
});
