import test from 'ava';
import { EngineError } from '@usher/engine';
import { activeToken, rejects, simulatedClock, startEngine } from './helpers/fixture.js';
import { places } from './helpers/places.js';

/** The last millisecond a `Date` can show: a view of anything later throws a RangeError. */
const END_OF_TIME = 8_640_000_000_000_000;
const config = {
  queueTickMs: 3_600_000,
  holdSweepMs: 3_600_000,
  tokenActiveTtlMs: 60_000,
  holdTtlMs: 300_000,
};

for (const name of ['memory', 'lowdb'] as const) {
  test(`${name}: a command that faults after changing state changes nothing, appends nothing, and fails the engine`, async (t) => {
    const place = await places[name]!(t);
    // A real trigger, no test hook: on a clock this close to the end of time the token's
    // view is fine but a hold ends after it, so `reserve` holds the seat, extends the
    // token, and only then throws a RangeError building the reservation's view.
    const clock = simulatedClock(END_OF_TIME - 200_000);
    const first = await startEngine({ store: place.open(), clock, config });
    const ann = await activeToken(first.engine, 'ann');
    const token = await first.engine.getToken(ann);
    await first.engine.close();
    const before = await place.durable();

    const { engine } = await startEngine({ store: place.open(), clock, config, catalog: null });
    t.deepEqual(engine.health, { status: 'ok' });
    const fault = await t.throwsAsync(engine.reserve(ann, { scheduleId: 's1', seatNo: 1 }), {
      instanceOf: EngineError,
    });
    t.is(fault?.code, 'UNAVAILABLE', 'answered as a 503-class refusal, not a fault');
    t.true(fault?.cause instanceof RangeError);
    t.like(engine.health, { status: 'failed' });
    t.regex(engine.health.reason ?? '', /Invalid time value/);
    t.is(await engine.whenFailed, fault!.cause as Error, 'whenFailed tells of the fault');
    // Memory may now differ from disk: nothing more is answered.
    await rejects(t, engine.getToken(ann), 'UNAVAILABLE');
    await rejects(t, engine.listSeats(ann, 's1'), 'UNAVAILABLE');
    await engine.close();
    t.like(engine.health, { status: 'failed' }, 'closing does not hide the failure');

    t.deepEqual(await place.durable(), before, 'nothing the faulty command did was appended');
    const { engine: restarted } = await startEngine({
      store: place.open(),
      clock,
      config,
      catalog: null,
    });
    t.deepEqual(restarted.health, { status: 'ok' });
    t.is((await restarted.listSeats(ann, 's1')).seats[0]!.seatNo, 1, 'the seat is available');
    t.deepEqual(await restarted.getToken(ann), token, 'the token was not extended');
    t.is((await restarted.stats()).reservations, 0);
    await restarted.close();
  });
}

test('a refusal after expiring what was due keeps the expiry: the engine stays healthy', async (t) => {
  const { engine, clock, store } = await startEngine({
    config: { ...config, tokenActiveTtlMs: 3_600_000 },
  });
  const ann = await activeToken(engine, 'ann');
  const hold = await engine.reserve(ann, { scheduleId: 's1', seatNo: 1 });
  clock.increment(300_000);
  // The hold expires before this command, which is then refused: the expiry is a change, the refusal is not.
  await rejects(t, engine.reserve(ann, { scheduleId: 's1', seatNo: 99 }), 'SEAT_NOT_FOUND');
  t.deepEqual(engine.health, { status: 'ok' });
  t.is((await store.load())!.reservations.get(hold.id)!.status, 'expired', 'the expiry is durable');
  t.is((await engine.getReservation(ann, hold.id)).status, 'expired');
  await engine.close();
});
