import test from 'ava';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine, simulatedClock } from './helpers/engines.js';

/**
 * Watching tokens across instances: a keeper step on one engine reaches the
 * watchers of another through LISTEN/NOTIFY. What a watcher is told on one
 * engine is checked on both engines by packages/behaviour/test/watch.test.ts.
 */
const server = usePostgres(test);

/** Lets notifications arrive and their refreshes run. */
async function settleDown(until: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !until(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

test("a tick on another engine reaches this engine's watchers through LISTEN/NOTIFY", async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const config = { ...manual, queueMaxActive: 1, queueAdmitPerTick: 1, tokenActiveTtlMs: 1_000 };
  const { engine: watching } = await openEngine(t, url, { config, clock });
  const { engine: ticking } = await openEngine(t, url, { config, clock, catalog: null });
  await watching.issueToken('ann');
  const tokens: string[] = [];
  for (let i = 0; i < 50; i++) tokens.push((await watching.issueToken(`u${i}`)).token.token);
  const seen = new Map<string, number | null>();
  let ended = 0;
  await Promise.all(
    tokens.map((token) =>
      watching.watchToken(token, {
        update: (view) => seen.set(token, view.position),
        end: () => void ended++,
      }),
    ),
  );
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
