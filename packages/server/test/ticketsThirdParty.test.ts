/**
 * SPEC §11: a ticket's code verifies with a third-party JOSE verifier given
 * only the JWKS URL. The verifier (`fixtures/verifyTicketCode.mjs`) is a
 * process of its own that imports `jose` and nothing of usher; the server is
 * the real one, on 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { client, eventually, startServerProcess } from './helpers/serverProcess.js';

const verifier = fileURLToPath(new URL('fixtures/verifyTicketCode.mjs', import.meta.url));
const run = promisify(execFile);

/** The verifier's answer: its exit code and what it printed. */
async function verify(jwksUrl: string, code: string): Promise<{ ok: boolean; out: any }> {
  // A plain node: none of the test runner's loaders or conditions, so it could not import usher's sources.
  const options = { env: { PATH: process.env.PATH ?? '' } };
  try {
    const { stdout } = await run(process.execPath, [verifier, jwksUrl, code], options);
    return { ok: true, out: JSON.parse(stdout) };
  } catch (error) {
    return { ok: false, out: JSON.parse((error as { stdout: string }).stdout) };
  }
}

test('a ticket code verifies in a process that has only jose and the JWKS URL; an altered one does not', async (t) => {
  t.notRegex(
    await readFile(verifier, 'utf8'),
    /@usher|\.\.\/\.\.\/src/,
    'the verifier imports jose only',
  );
  const dir = await mkdtemp(join(tmpdir(), 'usher-third-party-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const server = await startServerProcess({
    DATA_DIR: dir,
    TOKEN_RATE_PER_MINUTE: '0',
    MAX_CONNECTIONS_PER_ADDRESS: '0',
  });
  t.teardown(() => server.process.kill('SIGKILL'));
  const api = client(server.url);
  const token = (await api('POST', '/queue/tokens', { body: { userId: 'ann' } })).body
    .token as string;
  await eventually(async () =>
    (await api('GET', '/queue/tokens/current', { token })).body.status === 'active'
      ? true
      : undefined,
  );
  const concert = (
    (await api('GET', '/concerts', { token })).body.concerts as { id: string }[]
  )[0]!;
  const schedule = (
    (await api('GET', `/concerts/${concert.id}/schedules`, { token })).body.schedules as {
      id: string;
    }[]
  )[0]!;
  const hold = await api('POST', '/reservations', {
    token,
    body: { scheduleId: schedule.id, quantity: 2 },
  });
  t.is(hold.status, 201, JSON.stringify(hold.body));
  await api('POST', '/users/ann/balance/charge', { token, body: { amount: hold.body.amount } });
  t.is(
    (await api('POST', '/payments', { token, body: { reservationId: hold.body.id } })).status,
    201,
  );
  const tickets = (await api('GET', '/tickets', { token })).body.tickets as {
    id: string;
    scheduleId: string;
    seatNo: number;
    code: string;
  }[];
  t.is(tickets.length, 2);

  const jwksUrl = new URL('/.well-known/jwks.json', server.url).href;
  for (const ticket of tickets) {
    const { ok, out } = await verify(jwksUrl, ticket.code);
    t.true(ok, JSON.stringify(out));
    t.like(out.payload, {
      tid: ticket.id,
      sch: ticket.scheduleId,
      seat: ticket.seatNo,
      sub: 'ann',
    });
    t.is(out.protectedHeader.alg, 'EdDSA');
  }
  // The claims of one ticket with the signature of another: refused by the signature check.
  const [a, b] = tickets.map((ticket) => ticket.code.split('.'));
  const spliced = [a![0], b![1], a![2]].join('.');
  t.deepEqual(await verify(jwksUrl, spliced), {
    ok: false,
    out: { refused: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' },
  });
});
