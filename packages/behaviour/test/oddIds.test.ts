import { activeToken, manual, rejects } from '@usher/testkit';
import { behaviour } from './helpers/engines.js';

/**
 * Ids no engine ever gave out, with characters a PostgreSQL `text` cannot
 * hold (NUL) or that UTF-8 cannot spell (a lone surrogate): looked up, they
 * are unknown, as any other unknown id, and one of them among other
 * commands read at the same time fails only itself (issue 20). As a user id
 * such an id is not looked up: the user id rule refuses it (issue 21).
 */
const ODD = ['abc\u0000def', 'abc\ud800def', '\udfff', 'x\u0000'];

behaviour(
  'an odd token among twenty polls answers TOKEN_INVALID alone: the twenty are answered',
  async (t, kit) => {
    const { engine } = await kit.start({ config: { ...manual, queueMaxActive: 5 } });
    const tokens: string[] = [];
    for (let i = 0; i < 20; i++) tokens.push((await engine.issueToken(`u${i}`)).token.token);
    for (const odd of ODD) {
      // Asked in one turn: on the PostgreSQL engine they share one batched read.
      const polls = tokens.map((token) => engine.getToken(token));
      const bad = engine.getToken(odd);
      const answers = await Promise.all(polls);
      t.deepEqual(
        answers.map((view) => view.token),
        tokens,
      );
      await rejects(t, bad, 'TOKEN_INVALID');
    }
  },
);

behaviour('odd ids in any argument are unknown ids, never a fault', async (t, kit) => {
  const { engine } = await kit.start({ config: manual });
  const ann = await activeToken(engine, 'ann');
  for (const odd of ODD) {
    await rejects(t, engine.getToken(odd), 'TOKEN_INVALID');
    t.is(await engine.tokenOwner(odd), undefined);
    await rejects(t, engine.listConcerts(odd), 'TOKEN_INVALID');
    await rejects(t, engine.listSchedules(ann, odd), 'CONCERT_NOT_FOUND');
    await rejects(t, engine.listSeats(ann, odd), 'SCHEDULE_NOT_FOUND');
    await rejects(t, engine.reserve(ann, { scheduleId: odd, seatNo: 1 }), 'SCHEDULE_NOT_FOUND');
    await rejects(t, engine.getReservation(ann, odd), 'RESERVATION_NOT_FOUND');
    await rejects(t, engine.cancelReservation(ann, odd), 'RESERVATION_NOT_FOUND');
    await rejects(t, engine.pay(ann, { reservationId: odd }), 'RESERVATION_NOT_FOUND');
    await rejects(t, engine.getBalance(ann, odd), 'VALIDATION_FAILED');
    await rejects(t, engine.charge(ann, { userId: odd, amount: 1 }), 'VALIDATION_FAILED');
    await rejects(t, engine.reserve(odd, { scheduleId: 's1', seatNo: 1 }), 'TOKEN_INVALID');
  }
  // Nothing of it changed anything: ann still holds nothing and has no wallet.
  t.deepEqual(await engine.listReservations(ann), []);
  t.is((await engine.getBalance(ann, 'ann')).balance, 0);
});
