import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createDatabase, usePostgres } from '@usher/testkit';
import { solvedHeader, type IssuedChallenge } from './helpers/challenge.js';
import { client, startServerProcess } from './helpers/serverProcess.js';

/**
 * Finding 5 (issue 21): a spent proof-of-work solution stays spent across a
 * restart with a fixed QUEUE_CHALLENGE_SECRET, on the embedded store and on
 * PostgreSQL alike: the real server, stopped (SIGTERM) and started again.
 */
const postgres = usePostgres(test);

const pow = {
  QUEUE_CHALLENGE: 'pow',
  QUEUE_CHALLENGE_SECRET: 'a-shared-secret-of-at-least-32-bytes!',
  QUEUE_CHALLENGE_MAX_NUMBER: '100',
  TOKEN_RATE_PER_MINUTE: '0',
};

/** A solved challenge of the server at `url`, as the X-Challenge header. */
const solved = async (url: string): Promise<string> =>
  solvedHeader((await client(url)('GET', '/queue/challenge')).body as IssuedChallenge);

async function restartKeepsItSpent(t: ExecutionContext, env: Record<string, string>) {
  const first = await startServerProcess({ ...env, ...pow });
  t.teardown(() => first.process.kill('SIGKILL'));
  const header = await solved(first.url);
  const join = (url: string, userId: string) =>
    client(url)('POST', '/queue/tokens', { body: { userId }, headers: { 'X-Challenge': header } });
  t.is((await join(first.url, 'ann')).status, 201);
  t.like((await join(first.url, 'bob')).body, { code: 'CHALLENGE_FAILED', reason: 'replayed' });
  first.process.kill('SIGTERM');
  t.is((await first.exited).code, 0);

  const second = await startServerProcess({ ...env, ...pow });
  t.teardown(() => second.process.kill('SIGKILL'));
  const replayed = await join(second.url, 'cat');
  t.is(replayed.status, 400, JSON.stringify(replayed.body));
  t.like(replayed.body, { code: 'CHALLENGE_FAILED', reason: 'replayed' });
  // A new solution of the restarted server is good, once.
  t.is(
    (
      await client(second.url)('POST', '/queue/tokens', {
        body: { userId: 'cat' },
        headers: { 'X-Challenge': await solved(second.url) },
      })
    ).status,
    201,
  );
}

test('finding 5: embedded (DATA_DIR), a spent solution is refused after a restart', async (t) => {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-spent-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  await restartKeepsItSpent(t, { DATA_DIR });
});

test('finding 5: PostgreSQL (DATABASE_URL), a spent solution is refused after a restart', async (t) => {
  await restartKeepsItSpent(t, { DATABASE_URL: await createDatabase(postgres()) });
});
