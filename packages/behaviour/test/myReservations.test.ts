import { behaviour } from './helpers/engines.js';
import { activeToken, manual, rejects } from '@usher/testkit';

behaviour(
  "listReservations: the token's user's live holds and paid tickets, newest first; not ended ones, not anyone else's",
  async (t, kit) => {
    const { engine, clock } = await kit.start({
      config: { ...manual, tokenActiveTtlMs: 3_600_000 },
    });
    const ann = await activeToken(engine, 'ann');
    const bob = await activeToken(engine, 'bob');
    t.deepEqual(await engine.listReservations(ann), [], 'nothing yet');
    const first = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
    clock.increment(1_000);
    const cancelled = await engine.reserve(ann, { scheduleId: 's1', seatNo: 2 });
    clock.increment(1_000);
    const second = await engine.reserve(ann, { scheduleId: 's2', seatNo: 1 });
    await engine.reserve(bob, { scheduleId: 's1', seatNo: 3 });
    await engine.cancelReservation(ann, cancelled.id);
    t.deepEqual(await engine.listReservations(ann), [second, first]);
    t.deepEqual(await engine.listReservations(ann, { status: 'held' }), [second, first]);
    t.deepEqual(await engine.listReservations(ann, { status: 'paid' }), []);
    t.is((await engine.listReservations(bob)).length, 1);

    // A hold past its deadline is not listed, whether or not it was expired yet.
    clock.increment(298_500);
    t.deepEqual(await engine.listReservations(ann), [second], 'the first hold ran out');
    await rejects(
      t,
      engine.listReservations(ann, { status: 'expired' as 'held' }),
      'VALIDATION_FAILED',
    );
  },
);

behaviour(
  'a paid ticket is listed again after the token ended with the payment; unknown tokens are refused',
  async (t, kit) => {
    const { engine } = await kit.start({ config: manual });
    const ann = await activeToken(engine, 'ann');
    const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 4 });
    await engine.charge(ann, { userId: 'ann', amount: 10_000 });
    await engine.pay(ann, { reservationId: hold.id });
    await rejects(t, engine.getToken(ann), 'TOKEN_INVALID'); // the payment ended the turn
    await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 5 }), 'TOKEN_INVALID');
    const listed = await engine.listReservations(ann);
    t.deepEqual(listed, [{ ...hold, status: 'paid' }]);
    t.deepEqual(await engine.listReservations(ann, { status: 'paid' }), listed);
    t.deepEqual(await engine.listReservations(ann, { status: 'held' }), []);
    await rejects(t, engine.listReservations('no-such-token'), 'TOKEN_INVALID');
    await rejects(t, engine.listReservations(''), 'TOKEN_MISSING');
  },
);
