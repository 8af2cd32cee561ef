import test from 'ava';
import { createChallenge, solveChallenge } from 'altcha-lib/v1';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { schemas } from '@usher/koa';
import { assertAnswer, assertProblem, durable, startApi } from './helpers/api.js';

const KEY = 'a-test-hmac-key-for-challenges';
const ADMIN = 'operator-secret-0123456789';
type Challenge = {
  algorithm: string;
  challenge: string;
  salt: string;
  signature: string;
  maxnumber: number;
};

/** Solves a challenge as a client would (altcha-lib's own solver) and makes the X-Challenge header. */
async function solve(challenge: Challenge, number?: number): Promise<string> {
  const found =
    number ??
    (await solveChallenge(
      challenge.challenge,
      challenge.salt,
      challenge.algorithm,
      challenge.maxnumber,
    ).promise)!.number;
  const { algorithm, salt, signature } = challenge;
  return Buffer.from(
    JSON.stringify({ algorithm, challenge: challenge.challenge, number: found, salt, signature }),
  ).toString('base64');
}

const startPow = (maxNumber = 2_000) =>
  startApi({ app: { challenge: { hmacKey: KEY, maxNumber }, adminToken: ADMIN } });

test('the round trip: GET /queue/challenge, solve it, join with X-Challenge', async (t) => {
  const api = await startPow();
  const challenge = assertAnswer(
    t,
    await api.http.get('/queue/challenge'),
    200,
    schemas.Challenge,
  ) as Challenge;
  t.is(challenge.maxnumber, 2_000);
  t.regex(challenge.salt, /\?expires=\d+&$/);
  const joined = await api.http
    .post('/queue/tokens')
    .set('X-Challenge', await solve(challenge))
    .send({ userId: 'ann' });
  t.is(joined.status, 201, JSON.stringify(joined.body));
  t.is(joined.body.userId, 'ann');
  const again = await api.http.get('/queue/challenge');
  t.not(again.body.challenge, challenge.challenge, 'every challenge is new');
});

test('a missing, malformed, wrong, foreign or expired solution is 400 CHALLENGE_FAILED saying why, and issues nothing', async (t) => {
  const api = await startPow();
  const before = await durable(api);
  const challenge = (await api.http.get('/queue/challenge')).body as Challenge;
  const right = JSON.parse(Buffer.from(await solve(challenge), 'base64').toString()) as {
    number: number;
  };
  const foreign = (await createChallenge({
    hmacKey: 'another-gateway-key',
    maxNumber: 50,
  })) as Challenge;
  const expired = (await createChallenge({
    hmacKey: KEY,
    maxNumber: 50,
    expires: new Date(Date.now() - 1_000),
  })) as Challenge;
  const cases: [header: string | undefined, reason: string][] = [
    [undefined, 'missing'],
    ['', 'missing'],
    ['not base64 json', 'malformed'],
    [Buffer.from('{"algorithm":"SHA-256"}').toString('base64'), 'malformed'],
    [
      Buffer.from(JSON.stringify({ ...challenge, number: 1, algorithm: 'SHA-1' })).toString(
        'base64',
      ),
      'malformed',
    ],
    [await solve(challenge, (right.number + 1) % 2_001), 'wrong'],
    [
      await solve(
        { ...challenge, salt: challenge.salt.replace(/expires=\d+/, 'expires=9999999999') },
        right.number,
      ),
      'wrong',
    ],
    [await solve(foreign), 'wrong'],
    [await solve(expired), 'expired'],
  ];
  for (const [header, reason] of cases) {
    const call = api.http.post('/queue/tokens');
    const response = await (header === undefined ? call : call.set('X-Challenge', header)).send({
      userId: 'ann',
    });
    const problem = assertProblem(t, response, 'CHALLENGE_FAILED');
    t.is(
      (problem as { reason?: string }).reason,
      reason,
      `${header?.slice(0, 20)}: ${problem.detail}`,
    );
  }
  t.is(await durable(api), before);
  const metrics = (await api.http.get('/metrics').set('Authorization', `Bearer ${ADMIN}`)).text;
  t.regex(metrics, /^usher_challenge_failed_total\{reason="missing"\} 2$/m);
  t.regex(metrics, /^usher_challenge_failed_total\{reason="wrong"\} 3$/m);
  t.regex(metrics, /^usher_challenge_failed_total\{reason="expired"\} 1$/m);
});

test('a solution is good once: used again, for the same or another user, it is 400 CHALLENGE_FAILED (replayed)', async (t) => {
  const api = await startPow();
  const header = await solve((await api.http.get('/queue/challenge')).body as Challenge);
  t.is(
    (await api.http.post('/queue/tokens').set('X-Challenge', header).send({ userId: 'ann' }))
      .status,
    201,
  );
  for (const userId of ['ann', 'bob']) {
    const problem = assertProblem(
      t,
      await api.http.post('/queue/tokens').set('X-Challenge', header).send({ userId }),
      'CHALLENGE_FAILED',
    );
    t.is((problem as { reason?: string }).reason, 'replayed');
  }
});

test('an invalid body is refused before the solution is spent: fixed, the same solution still joins', async (t) => {
  const api = await startPow();
  const header = await solve((await api.http.get('/queue/challenge')).body as Challenge);
  assertProblem(
    t,
    await api.http.post('/queue/tokens').set('X-Challenge', header).send({ userId: '' }),
    'VALIDATION_FAILED',
  );
  t.is(
    (await api.http.post('/queue/tokens').set('X-Challenge', header).send({ userId: 'ann' }))
      .status,
    201,
  );
});

test('proof of work off (the default): no /queue/challenge, and joining needs no solution', async (t) => {
  const api = await startApi();
  assertProblem(t, await api.http.get('/queue/challenge'), 'NOT_FOUND');
  t.is((await api.http.post('/queue/tokens').send({ userId: 'ann' })).status, 201);
});

test('a join with no solution at all is refused before it counts against the rate limit; one with a solution counts', async (t) => {
  const limiter = new RateLimiterMemory({ keyPrefix: 'pow-and-limit', points: 1, duration: 60 });
  const api = await startApi({
    app: { challenge: { hmacKey: KEY, maxNumber: 1_000 }, tokenLimiter: [limiter] },
  });
  for (let i = 0; i < 3; i++)
    assertProblem(
      t,
      await api.http.post('/queue/tokens').send({ userId: 'ann' }),
      'CHALLENGE_FAILED',
    );
  t.is(await limiter.get('127.0.0.1'), null, 'nothing counted');
  const header = await solve((await api.http.get('/queue/challenge')).body as Challenge);
  t.is(
    (await api.http.post('/queue/tokens').set('X-Challenge', header).send({ userId: 'ann' }))
      .status,
    201,
  );
  const next = await solve((await api.http.get('/queue/challenge')).body as Challenge);
  assertProblem(
    t,
    await api.http.post('/queue/tokens').set('X-Challenge', next).send({ userId: 'bob' }),
    'RATE_LIMITED',
  );
  assertProblem(
    t,
    await api.http.post('/queue/tokens').set('X-Challenge', 'garbage').send({ userId: 'bob' }),
    'RATE_LIMITED',
  );
});
