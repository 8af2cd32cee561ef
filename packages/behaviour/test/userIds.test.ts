import { rejects } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';

/** Ids that break the one user id rule (see `userIdProblem`): each refused by the engine itself. */
const unfit = [
  'ann\u0000',
  'ann\u0085',
  '\u202eann',
  'an\u200bn',
  '\ufeffann',
  'ann\uffff',
  'ann\ud800',
  '\udfff',
  ' ann',
  'ann ',
  'Jose\u0301',
  'a'.repeat(129),
];

behaviour(
  'the engine refuses a user id that breaks the rule, whoever calls it: VALIDATION_FAILED, nothing stored',
  async (t, kit) => {
    const { engine } = await kit.start();
    const ann = (await engine.issueToken('ann')).token.token;
    const before = JSON.stringify([...(await kit.durable()).tokens.keys()]);
    for (const userId of unfit) {
      await rejects(t, engine.issueToken(userId), 'VALIDATION_FAILED');
      await rejects(t, engine.getBalance(ann, userId), 'VALIDATION_FAILED');
      await rejects(t, engine.charge(ann, { userId, amount: 1 }), 'VALIDATION_FAILED');
    }
    t.is(JSON.stringify([...(await kit.durable()).tokens.keys()]), before);
    // U+FFFD is a character like any other: a user of its own, not the lone surrogates'.
    t.is((await engine.issueToken('\ufffd')).token.userId, '\ufffd');
  },
);
