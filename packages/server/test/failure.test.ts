import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { client, eventually, startServerProcess } from './helpers/serverProcess.js';

async function dataDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'usher-failure-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a full disk: /ready is 503, in-flight requests finish, the store is closed, the process exits 1; a restart restores what was durable', async (t) => {
  const DATA_DIR = await dataDir(t);
  // 16 KiB of journal: the demo catalog fits, a few dozen charges later the disk is "full".
  const server = await startServerProcess({ DATA_DIR }, { fileSizeLimitKiB: 16 });
  t.teardown(() => server.process.kill('SIGKILL'));
  const api = client(server.url);
  t.deepEqual(await api('GET', '/ready'), {
    status: 200,
    type: 'application/json; charset=utf-8',
    body: { status: 'ready' },
  });

  // A readiness probe in flight when the disk fills: its headers are not finished yet.
  const probe = connect(Number(new URL(server.url).port), '127.0.0.1');
  await once(probe, 'connect');
  probe.write('GET /ready HTTP/1.1\r\nHost: usher\r\n');
  let reply = '';
  probe.on('data', (chunk) => (reply += chunk));
  const probeClosed = once(probe, 'close');

  const token = (await api('POST', '/queue/tokens', { body: { userId: 'ann' } })).body
    .token as string;
  let acknowledged = 0;
  let refusal: Awaited<ReturnType<typeof api>> | undefined;
  while (!refusal && acknowledged < 1_000) {
    const key = `${'k'.repeat(100)}-${acknowledged}`;
    const answer = await api('POST', '/users/ann/balance/charge', {
      token,
      body: { amount: 1 },
      headers: { 'idempotency-key': key },
    });
    if (answer.status === 200) acknowledged++;
    else refusal = answer;
  }
  t.like(
    refusal,
    { status: 503, body: { code: 'UNAVAILABLE' } },
    'the write that failed is not acknowledged',
  );
  t.true(acknowledged > 0);
  t.log(`${acknowledged} charges acknowledged before the disk was full`);

  const failed = await eventually(async () =>
    server.logs.find(
      (entry) => entry.msg === 'the engine failed; draining, then exiting to be restarted',
    ),
  );
  t.regex(JSON.stringify(failed.err), /EFBIG/, 'a real failed write: the file may grow no more');
  probe.write('\r\n');
  await probeClosed;
  t.regex(reply, /^HTTP\/1\.1 503 /, 'the in-flight probe is answered, not cut off');
  t.regex(reply, /"code":"UNAVAILABLE"/);
  t.regex(reply, /Retry-After: 5/i);

  const { code } = await server.exited;
  t.is(code, 1, 'a supervisor (systemd, Kubernetes) restarts it');
  t.true(
    server.logs.some((entry) => entry.msg === 'store closed'),
    'the store was closed (and its folder released) before exiting',
  );
  t.false(server.logs.some((entry) => entry.msg === 'shutdown failed'));

  const restarted = await startServerProcess({ DATA_DIR });
  t.teardown(() => restarted.process.kill('SIGKILL'));
  const again = client(restarted.url);
  t.is((await again('GET', '/ready')).status, 200);
  t.deepEqual(
    (await again('GET', '/users/ann/balance', { token })).body,
    { userId: 'ann', balance: acknowledged },
    'every acknowledged charge, and only those',
  );
});
