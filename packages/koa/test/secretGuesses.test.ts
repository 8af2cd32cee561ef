/**
 * Guessing the door scanners' token (SPEC §11) in bursts: the guess limit
 * (10 wrong tokens a minute per address) bounds how many guesses are
 * compared, also when they are all sent at once to a limiter whose store
 * answers over the network (the server's PostgreSQL limiter, a Redis one).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { ADMIN_GUESSES_PER_MINUTE } from '@usher/koa';
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { bearer, startApi } from './helpers/api.js';
import { capturedLogger } from './helpers/logs.js';

const SCANNER = 'scanner-token-of-the-door-0123';

/** A memory limiter that answers after a round trip to a busy store (100 ms). */
class RemoteLimiter extends RateLimiterMemory {
  override async get(key: string | number): Promise<RateLimiterRes | null> {
    await delay(100);
    return super.get(key);
  }
  override async consume(key: string | number, points?: number): Promise<RateLimiterRes> {
    await delay(100);
    return super.consume(key, points);
  }
  override async reward(key: string | number, points?: number): Promise<RateLimiterRes> {
    await delay(100);
    return super.reward(key, points);
  }
}

test('200 scanner-token guesses at once from one address: no more than the allowance are compared; the right one among them is not let through past it', async (t) => {
  const { logger, lines } = capturedLogger();
  const api = await startApi({
    app: {
      scannerToken: SCANNER,
      trustProxy: true,
      logger,
      scannerGuessLimiter: new RemoteLimiter({ points: ADMIN_GUESSES_PER_MINUTE, duration: 60 }),
    },
  });
  const guesses = Array.from({ length: 200 }, (_, i) => `guess-${String(i).padStart(30, '0')}`);
  // The attacker's lucky guess is the last of the burst.
  guesses.push(SCANNER);
  const server = createServer(api.app.callback()).listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkin`;
  const answers = await Promise.all(
    guesses.map((guess) =>
      fetch(url, {
        method: 'POST',
        headers: {
          ...bearer(guess),
          'content-type': 'application/json',
          'x-forwarded-for': '198.51.100.7',
        },
        body: JSON.stringify({ code: 'x' }),
      }),
    ),
  );
  t.log(answers.map((answer) => answer.status).join(' '));
  const compared = lines.filter((line) => line.msg === 'a wrong scanner token').length;
  t.true(
    compared <= ADMIN_GUESSES_PER_MINUTE,
    `${compared} wrong guesses were compared in one burst`,
  );
  t.is(answers.at(-1)!.status, 429, 'the right token, past the allowance, is refused too');
  t.is(answers.filter((answer) => answer.status === 401).length, compared);
  // A scanner of another address is not hindered.
  const door = await api.http
    .post('/checkin')
    .set('X-Forwarded-For', '203.0.113.9')
    .set(bearer(SCANNER))
    .send({ code: 'x' });
  t.is(door.status, 400);
});
