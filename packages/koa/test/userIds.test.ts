import test from 'ava';
import { schemas } from '@usher/koa';
import { unfitUserIds } from '@usher/testkit';
import { assertAnswer, assertProblem, bearer, durable, startApi } from './helpers/api.js';

test('a body userId that breaks the user id rule is 400 VALIDATION_FAILED, and changes nothing', async (t) => {
  const api = await startApi();
  const before = await durable(api);
  for (const [what, userId] of unfitUserIds) {
    const problem = assertProblem(
      t,
      await api.http.post('/queue/tokens').send({ userId }),
      'VALIDATION_FAILED',
    );
    t.is(problem.errors?.[0]?.path, 'body.userId', what);
  }
  t.is(await durable(api), before);
  t.deepEqual(api.faults, []);
});

test('NFC and NFD spellings of one name are not two users; U+FFFD and lone surrogates are not one', async (t) => {
  const api = await startApi();
  const nfc = 'Jos\u00e9';
  const issued = assertAnswer(
    t,
    await api.http.post('/queue/tokens').send({ userId: nfc }),
    201,
    schemas.QueueToken,
  );
  t.is(issued.userId, nfc);
  assertProblem(
    t,
    await api.http.post('/queue/tokens').send({ userId: nfc.normalize('NFD') }),
    'VALIDATION_FAILED',
  );
  // Visible, assigned characters of any script are user ids as they are.
  for (const userId of ['\ufffd', '\ud55c\uae00', 'Ann Lee', '\u{1f600}', 'Zo\u00eb']) {
    assertAnswer(t, await api.http.post('/queue/tokens').send({ userId }), 201, schemas.QueueToken);
  }
  for (const userId of ['\ud800', '\udfff'])
    assertProblem(t, await api.http.post('/queue/tokens').send({ userId }), 'VALIDATION_FAILED');
});

test("a path's user id that breaks the rule is 400 VALIDATION_FAILED", async (t) => {
  const api = await startApi();
  const token = (await api.http.post('/queue/tokens').send({ userId: 'ann' })).body.token as string;
  for (const raw of ['ann%C2%85', '%E2%80%AEann', 'ann%20', 'Jose%CC%81']) {
    assertProblem(
      t,
      await api.http.get(`/users/${raw}/balance`).set(bearer(token)),
      'VALIDATION_FAILED',
    );
    assertProblem(
      t,
      await api.http.post(`/users/${raw}/balance/charge`).set(bearer(token)).send({ amount: 100 }),
      'VALIDATION_FAILED',
    );
  }
});

test("a host's signed-in user id that breaks the rule is 401 IDENTITY_INVALID, whatever the route", async (t) => {
  let signedIn = 'ann';
  const api = await startApi({ app: { resolveUserId: () => signedIn } });
  const token = (await api.http.post('/queue/tokens')).body.token as string;
  const before = await durable(api);
  for (const [what, userId] of unfitUserIds) {
    signedIn = userId;
    const problem = assertProblem(t, await api.http.post('/queue/tokens'), 'IDENTITY_INVALID');
    t.regex(problem.detail, /^the signed-in user id /, what);
    assertProblem(t, await api.http.get('/concerts').set(bearer(token)), 'IDENTITY_INVALID');
  }
  t.is(await durable(api), before);
  t.deepEqual(api.faults, []);
});
