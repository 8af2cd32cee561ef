import test from 'ava';
import type { QueueToken } from '@usher/engine';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine, rejects, simulatedClock } from './helpers/engines.js';

/** Watching tokens: fed by the keeper's steps, one query per step for all of an instance's watched tokens. */
const server = usePostgres(test);

function recorder() {
  const updates: QueueToken[] = [];
  let ended = 0;
  return { updates, ended: () => ended, watcher: { update: (view: QueueToken) => updates.push(view), end: () => void ended++ } };
}

/** Lets notifications arrive and their refreshes run. */
async function settleDown(until: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !until(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('a watcher gets the view at once, then an update per tick that changed it, then active and the end', async (t) => {
  const { engine, clock } = await openEngine(t, await createDatabase(server()), {
    config: { ...manual, queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1_000 },
  });
  await engine.issueToken('ann');
  await engine.issueToken('bob');
  const cat = (await engine.issueToken('cat')).token.token;
  const watch = recorder();
  await engine.watchToken(cat, watch.watcher);
  t.deepEqual(watch.updates.map((view) => [view.status, view.position]), [['waiting', 2]]);
  clock.increment(1_000);
  await engine.tick();
  t.deepEqual(watch.updates.map((view) => [view.status, view.position]).at(-1), ['waiting', 1]);
  clock.increment(1_000);
  await engine.tick();
  t.like(watch.updates.at(-1), { status: 'active', position: 0, estimatedWaitSeconds: 0 });
  t.is(watch.ended(), 1);
  t.is((await engine.stats()).watchedTokens, 0);
});

test('nothing is sent for a tick that changed nothing; a watched token is never abandoned', async (t) => {
  const config = { ...manual, queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 3_600_000, queueWaitingTtlMs: 60_000 };
  const { engine, clock } = await openEngine(t, await createDatabase(server()), { config });
  await engine.issueToken('ann');
  const bob = (await engine.issueToken('bob')).token.token;
  const watch = recorder();
  await engine.watchToken(bob, watch.watcher);
  for (let i = 0; i < 5; i++) {
    clock.increment(30_000);
    await engine.tick();
  }
  t.is(watch.updates.length, 1, 'the position did not change');
  t.is((await engine.getToken(bob)).status, 'waiting', '150 s without a poll, yet still in line: the watcher counts');
});

test('a tick on another engine reaches this engine\'s watchers through LISTEN/NOTIFY', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const config = { ...manual, queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1_000 };
  const { engine: watching } = await openEngine(t, url, { config, clock });
  const { engine: ticking } = await openEngine(t, url, { config, clock, catalog: null });
  await watching.issueToken('ann');
  const tokens: string[] = [];
  for (let i = 0; i < 50; i++) tokens.push((await watching.issueToken(`u${i}`)).token.token);
  const seen = new Map<string, number>();
  let ended = 0;
  await Promise.all(tokens.map((token) => watching.watchToken(token, { update: (view) => seen.set(token, view.position), end: () => void ended++ })));
  t.is(seen.get(tokens[49]!), 50);
  clock.increment(1_000);
  await ticking.tick(); // ann expires, u0 is admitted
  await settleDown(() => seen.get(tokens[49]!) === 49);
  t.is(seen.get(tokens[0]!), 0);
  t.is(ended, 1);
  t.is(seen.get(tokens[1]!), 1);
  t.is(seen.get(tokens[49]!), 49);
  t.is((await watching.stats()).watchedTokens, 49);
});

test('stopping a watch stops its updates; closing the engine ends every watch; unknown tokens are refused', async (t) => {
  const { engine } = await openEngine(t, await createDatabase(server()), { config: { ...manual, queueMaxActive: 1 } });
  const ann = (await engine.issueToken('ann')).token.token;
  await engine.issueToken('bob');
  const cat = (await engine.issueToken('cat')).token.token;
  const dan = (await engine.issueToken('dan')).token.token;
  const active = recorder();
  await engine.watchToken(ann, active.watcher);
  t.deepEqual([active.updates.map((view) => view.status), active.ended()], [['active'], 1]);
  await rejects(t, engine.watchToken('nope', active.watcher), 'TOKEN_INVALID');
  await rejects(t, engine.watchToken('', active.watcher), 'TOKEN_MISSING');
  const stopped = recorder();
  const open = recorder();
  const stop = await engine.watchToken(cat, stopped.watcher);
  await engine.watchToken(dan, open.watcher);
  stop();
  t.is((await engine.stats()).watchedTokens, 1);
  await engine.close();
  t.is(stopped.ended(), 0);
  t.is(open.ended(), 1);
});

test('a tick that admits the token while the watch is being set up still reaches the watcher, in order', async (t) => {
  const { engine, clock } = await openEngine(t, await createDatabase(server()), { config: { ...manual, queueMaxActive: 1, tokenActiveTtlMs: 1_000 } });
  await engine.issueToken('ann');
  const bob = (await engine.issueToken('bob')).token.token;
  clock.increment(1_000);
  const watch = recorder();
  await Promise.all([engine.watchToken(bob, watch.watcher), engine.tick()]);
  await settleDown(() => watch.ended() === 1);
  t.deepEqual(watch.updates.map((view) => view.status).at(-1), 'active');
  t.is(watch.ended(), 1);
});
