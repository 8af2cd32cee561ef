import { userIdProblem } from '@usher/engine';
import { rejects, unfitUserIds } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';

behaviour(
  'the engine refuses a user id that breaks the rule, whoever calls it: VALIDATION_FAILED, nothing stored',
  async (t, kit) => {
    const { engine } = await kit.start();
    const ann = (await engine.issueToken('ann')).token.token;
    const before = JSON.stringify([...(await kit.durable()).tokens.keys()]);
    for (const [what, userId] of unfitUserIds) {
      // In the rule's own words on both engines: no engine refuses it by a check of its own.
      const refusal = `userId ${userIdProblem(userId)}`;
      for (const refused of [
        engine.issueToken(userId),
        engine.getBalance(ann, userId),
        engine.charge(ann, { userId, amount: 1 }),
      ])
        t.is((await rejects(t, refused, 'VALIDATION_FAILED')).message, refusal, what);
    }
    t.is(JSON.stringify([...(await kit.durable()).tokens.keys()]), before);
    // U+FFFD is a character like any other: a user of its own, not the lone surrogates'.
    t.is((await engine.issueToken('\ufffd')).token.userId, '\ufffd');
  },
);
