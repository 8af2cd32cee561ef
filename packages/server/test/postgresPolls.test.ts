import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createApp } from '@usher/koa';
import { createPostgresEngine } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';

/**
 * Issue 20, over HTTP on the PostgreSQL engine: a queue token with a NUL in it
 * (`%00` in the event stream's `access_token`, no sign-in needed in demo mode)
 * is an unknown token (401), and the twenty polls read in the same batch are
 * answered 200: one bad item never fails another.
 */
const server = usePostgres(test);

test('a %00 token among twenty polls: 401 for it, 200 for each of the twenty', async (t) => {
  const engine = await createPostgresEngine({
    connectionString: await createDatabase(server()),
    config: { queueTickMs: 3_600_000, holdSweepMs: 3_600_000, queueMaxActive: 5 },
  });
  t.teardown(() => engine.close());
  const http = createServer(createApp(engine).callback());
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => http.close(() => resolve())));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const tokens: string[] = [];
  for (let i = 0; i < 20; i++) {
    const issued = await fetch(`${base}/queue/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: `user-${i}` }),
    });
    tokens.push(((await issued.json()) as { token: string }).token);
  }
  for (let round = 0; round < 5; round++) {
    // The bad one goes out in the middle of the twenty, so that they share the server's turns.
    const requests = tokens.map((token) =>
      fetch(`${base}/queue/tokens/current`, { headers: { authorization: `Bearer ${token}` } }),
    );
    requests.splice(10, 0, fetch(`${base}/queue/tokens/current/events?access_token=abc%00def`));
    const answers = await Promise.all(requests);
    t.deepEqual(
      answers.map((answer) => answer.status),
      [...tokens.slice(0, 10).map(() => 200), 401, ...tokens.slice(10).map(() => 200)],
      `round ${round}`,
    );
    t.like(await answers[10]!.json(), { code: 'TOKEN_INVALID' });
  }
});
