import test from 'ava';
import pg from 'pg';
import { isEngineError } from '@usher/engine';
import { createDatabase, usePostgres } from '@usher/testkit';
import { manual, openEngine, rejects, simulatedClock } from './helpers/engines.js';

/** Presale codes (issue 25, SPEC §12) across gateways: two engines over one database. */
const server = usePostgres(test);

async function spentRows(url: string): Promise<{ hash: string; spent_at: string | null }[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query('SELECT hash, spent_at FROM presale_codes')).rows;
  } finally {
    await client.end();
  }
}

test('a presale code is spent once among 50 concurrent joins across two gateways: one token at the head of the line, 49 CODE_INVALID', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const config = { ...manual, queueMaxActive: 1 };
  const a = (await openEngine(t, url, { config, clock })).engine;
  const b = (await openEngine(t, url, { config, clock, catalog: null })).engine;
  // Someone is in: every later join waits.
  t.like((await a.issueToken('first')).token, { status: 'active' });
  await a.issueToken('waiting-1');
  const { codes } = await a.createCodes('default', 1);
  const code = codes[0]!;

  const outcomes = await Promise.allSettled(
    Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).issueToken(`fan${i}`, { code })),
  );
  const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
  const refused = outcomes.filter(
    (outcome) => outcome.status === 'rejected' && isEngineError(outcome.reason, 'CODE_INVALID'),
  );
  t.is(won.length, 1, 'exactly one join got the code');
  t.is(refused.length, 49, 'every other one is CODE_INVALID');
  const token = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof a.issueToken>>>).value
    .token;
  t.like(token, { status: 'waiting', position: 1 });
  const rows = await spentRows(url);
  t.is(rows.length, 1);
  t.not(rows[0]!.spent_at, null, 'spent, durably');
  t.false(rows[0]!.hash.includes(code), 'only the hash is stored');
  t.like(await a.room(), { waiting: 2, active: 1 }, 'one token more, no other');

  // The next tick with a free place admits the code's holder before the line's head.
  await b.updateRoom({ maxActive: 2 });
  await a.tick();
  t.like(await b.getToken(token.token), { status: 'active' });
  await rejects(t, b.issueToken('late', { code }), 'CODE_INVALID');
});

test('a restart and a keeper failover keep a code spent and the order of the line: code holders first, then by line', async (t) => {
  const url = await createDatabase(server());
  const clock = simulatedClock();
  const config = { ...manual, queueMaxActive: 1, queueAdmitPerTick: 1 };
  const first = await openEngine(t, url, { config, clock });
  const a = first.engine;
  await a.issueToken('in');
  const line: string[] = [];
  for (const user of ['w1', 'w2', 'w3']) line.push((await a.issueToken(user)).token.token);
  const { codes } = await a.createCodes('default', 2);
  const vip = (await a.issueToken('vip', { code: codes[0]! })).token.token;
  await a.close();

  const b = (await openEngine(t, url, { config, clock, catalog: null })).engine;
  await rejects(t, b.issueToken('other', { code: codes[0]! }), 'CODE_INVALID');
  const vip2 = (await b.issueToken('vip2', { code: codes[1]! })).token.token;
  t.like(await b.getToken(vip), { status: 'waiting', position: 1 });
  t.like(await b.getToken(vip2), { status: 'waiting', position: 2 });
  const order: string[] = [];
  for (let place = 2; place <= 6; place++) {
    await b.updateRoom({ maxActive: place });
    await b.tick();
    for (const [name, token] of [
      ['vip', vip],
      ['vip2', vip2],
      ['w1', line[0]!],
      ['w2', line[1]!],
      ['w3', line[2]!],
    ] as const) {
      if (order.includes(name)) continue;
      if ((await b.getToken(token)).status === 'active') order.push(name);
    }
  }
  t.deepEqual(order, ['vip', 'vip2', 'w1', 'w2', 'w3']);
});
