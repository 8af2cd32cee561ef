import { rejects, unfitUserIds } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';

behaviour(
  'the engine refuses a user id that breaks the rule, whoever calls it: VALIDATION_FAILED, nothing stored',
  async (t, kit) => {
    const { engine } = await kit.start();
    const ann = (await engine.issueToken('ann')).token.token;
    const before = JSON.stringify([...(await kit.durable()).tokens.keys()]);
    for (const [, userId] of unfitUserIds) {
      await rejects(t, engine.issueToken(userId), 'VALIDATION_FAILED');
      await rejects(t, engine.getBalance(ann, userId), 'VALIDATION_FAILED');
      await rejects(t, engine.charge(ann, { userId, amount: 1 }), 'VALIDATION_FAILED');
    }
    t.is(JSON.stringify([...(await kit.durable()).tokens.keys()]), before);
    // U+FFFD is a character like any other: a user of its own, not the lone surrogates'.
    t.is((await engine.issueToken('\ufffd')).token.userId, '\ufffd');
  },
);
