import test from 'ava';
import fc from 'fast-check';
import { createActor, createMachine, setup, SimulatedClock, type AnyStateMachine } from 'xstate';
import {
  compileLifecycle,
  defaultConfig,
  lifecyclesFor,
  queueTokenLifecycle,
  queueTokenMachine,
  seatLifecycle,
  reservationLifecycle,
  reservationMachine,
  seatMachine,
  ticketLifecycle,
  ticketMachine,
  TIMEOUT,
  type Lifecycle,
} from '@usher/engine';

test('a seat is held until exactly its deadline, then available again', (t) => {
  const clock = new SimulatedClock();
  const seat = createActor(seatMachine, { clock }).start();
  seat.send({ type: 'HOLD', reservationId: 'r1', at: 0, expiresAt: 300_000 });
  t.is(seat.getSnapshot().value, 'held');
  t.is(seat.getSnapshot().context.reservationId, 'r1');
  clock.increment(299_999);
  t.is(seat.getSnapshot().value, 'held');
  clock.increment(1);
  t.is(seat.getSnapshot().value, 'available');
  t.is(seat.getSnapshot().context.reservationId, null);
});

test('a released seat is available; a paid seat has no timer and leaves only by a refund', (t) => {
  const clock = new SimulatedClock();
  const seat = createActor(seatMachine, { clock }).start();
  seat.send({ type: 'HOLD', reservationId: 'r1', at: 0, expiresAt: 1_000 });
  seat.send({ type: 'RELEASE' });
  t.is(seat.getSnapshot().value, 'available');
  seat.send({ type: 'HOLD', reservationId: 'r2', at: 0, expiresAt: 1_000 });
  seat.send({ type: 'PAY' });
  t.is(seat.getSnapshot().value, 'paid');
  clock.increment(10_000);
  seat.send({ type: 'HOLD', reservationId: 'r3', at: 0, expiresAt: 1_000 });
  seat.send({ type: 'RELEASE' });
  t.is(seat.getSnapshot().value, 'paid');
  t.is(seat.getSnapshot().context.reservationId, 'r2');
  seat.send({ type: 'REFUND' });
  t.is(seat.getSnapshot().value, 'available');
  t.is(seat.getSnapshot().context.reservationId, null);
});

test('a ticket leaves valid once: checked in, refunded or transferred, each final', (t) => {
  for (const [event, state] of [
    ['CHECK_IN', 'checked_in'],
    ['REFUND', 'refunded'],
    ['TRANSFER', 'transferred'],
  ] as const) {
    const ticket = createActor(ticketMachine).start();
    ticket.send({ type: event });
    t.is(ticket.getSnapshot().value, state);
    t.is(ticket.getSnapshot().status, 'done');
    for (const other of ['CHECK_IN', 'REFUND', 'TRANSFER'] as const) ticket.send({ type: other });
    t.is(ticket.getSnapshot().value, state);
  }
});

test('an available seat ignores RELEASE and PAY; a held seat ignores a second HOLD', (t) => {
  const seat = createActor(seatMachine, { clock: new SimulatedClock() }).start();
  seat.send({ type: 'PAY' });
  seat.send({ type: 'RELEASE' });
  t.is(seat.getSnapshot().value, 'available');
  seat.send({ type: 'HOLD', reservationId: 'r1', at: 0, expiresAt: 1_000 });
  seat.send({ type: 'HOLD', reservationId: 'r2', at: 0, expiresAt: 9_000 });
  t.is(seat.getSnapshot().context.reservationId, 'r1');
});

test('a token is active until its deadline; EXTEND moves the deadline later, never earlier', (t) => {
  const clock = new SimulatedClock();
  const token = createActor(queueTokenMachine, { clock }).start();
  t.is(token.getSnapshot().value, 'waiting');
  token.send({ type: 'ADMIT', at: 0, expiresAt: 600_000 });
  clock.increment(500_000);
  token.send({ type: 'EXTEND', at: 500_000, expiresAt: 800_000 });
  token.send({ type: 'EXTEND', at: 500_000, expiresAt: 700_000 });
  t.is(token.getSnapshot().context.expiresAt, 800_000);
  clock.increment(299_999);
  t.is(token.getSnapshot().value, 'active');
  clock.increment(1);
  t.is(token.getSnapshot().value, 'expired');
  t.is(token.getSnapshot().status, 'done');
});

test('a token completes after payment and is abandoned only while waiting', (t) => {
  const completed = createActor(queueTokenMachine, { clock: new SimulatedClock() }).start();
  completed.send({ type: 'ADMIT', at: 0, expiresAt: 10 });
  completed.send({ type: 'ABANDON' });
  t.is(completed.getSnapshot().value, 'active');
  completed.send({ type: 'COMPLETE' });
  t.is(completed.getSnapshot().value, 'expired');

  const abandoned = createActor(queueTokenMachine, { clock: new SimulatedClock() }).start();
  abandoned.send({ type: 'COMPLETE' });
  t.is(abandoned.getSnapshot().value, 'waiting');
  abandoned.send({ type: 'ABANDON' });
  t.is(abandoned.getSnapshot().value, 'expired');
});

test('the compiled tables are exactly the transitions of SPEC §3', (t) => {
  const table = (lifecycle: Lifecycle<string, string>, events: string[]) =>
    Object.fromEntries(
      lifecycle.states.map((state) => [
        state,
        Object.fromEntries(
          events.flatMap((event) =>
            lifecycle.next(state, event) ? [[event, lifecycle.next(state, event)]] : [],
          ),
        ),
      ]),
    );
  t.deepEqual(table(seatLifecycle, ['HOLD', 'RELEASE', 'PAY', 'REFUND', TIMEOUT]), {
    available: { HOLD: 'held' },
    held: { RELEASE: 'available', PAY: 'paid', timeout: 'available' },
    paid: { REFUND: 'available' },
  });
  t.deepEqual(table(ticketLifecycle, ['CHECK_IN', 'REFUND', 'TRANSFER', TIMEOUT]), {
    valid: { CHECK_IN: 'checked_in', REFUND: 'refunded', TRANSFER: 'transferred' },
    checked_in: {},
    refunded: {},
    transferred: {},
  });
  t.deepEqual(
    table(queueTokenLifecycle, ['ADMIT', 'EXTEND', 'COMPLETE', 'ABANDON', 'SOLD_OUT', TIMEOUT]),
    {
      waiting: { ADMIT: 'active', ABANDON: 'expired', SOLD_OUT: 'expired' },
      active: { EXTEND: 'active', COMPLETE: 'expired', timeout: 'expired' },
      expired: {},
    },
  );
  t.is(seatLifecycle.timerOf('held'), 'holdTtl');
  t.is(queueTokenLifecycle.timerOf('active'), 'activeTtl');
  t.false(seatLifecycle.isFinal('paid'));
  for (const state of ['checked_in', 'refunded', 'transferred'] as const)
    t.true(ticketLifecycle.isFinal(state));
  t.true(queueTokenLifecycle.isFinal('expired'));
});

/** Runs random event sequences through a live actor and through the compiled table; they must agree at every step. */
function conforms(
  machine: AnyStateMachine,
  lifecycle: Lifecycle<string, string>,
  events: fc.Arbitrary<{ type: string }>,
) {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(events, fc.constant({ type: TIMEOUT })), { maxLength: 30 }),
      (sequence) => {
        const clock = new SimulatedClock();
        const actor = createActor(machine, { clock }).start();
        let state = lifecycle.initial;
        for (const event of sequence) {
          if (event.type === TIMEOUT) clock.increment(1_000);
          else actor.send(event);
          state = lifecycle.next(state, event.type) ?? state;
          if (actor.getSnapshot().value !== state) return false;
        }
        return true;
      },
    ),
  );
}

test('the compiled seat table agrees with a live seat actor on random event sequences', (t) => {
  const hold = fc.constant({ type: 'HOLD', reservationId: 'r', at: 0, expiresAt: 1_000 });
  t.notThrows(() =>
    conforms(
      seatMachine,
      seatLifecycle,
      fc.oneof(
        hold,
        fc.constant({ type: 'RELEASE' }),
        fc.constant({ type: 'PAY' }),
        fc.constant({ type: 'REFUND' }),
      ),
    ),
  );
});

test('the compiled token table agrees with a live token actor on random event sequences', (t) => {
  const admit = fc.constant({ type: 'ADMIT', at: 0, expiresAt: 1_000 });
  const other = fc.constantFrom({ type: 'COMPLETE' }, { type: 'ABANDON' }, { type: 'SOLD_OUT' });
  t.notThrows(() => conforms(queueTokenMachine, queueTokenLifecycle, fc.oneof(admit, other)));
});

test('compileLifecycle refuses what a table cannot represent', (t) => {
  const guarded = setup({ guards: { lucky: () => true } }).createMachine({
    id: 'guarded',
    initial: 'a',
    states: { a: { on: { GO: { target: 'b', guard: 'lucky' } } }, b: {} },
  });
  t.throws(() => compileLifecycle(guarded, ['a', 'b']), { message: /guards/ });
  const nested = createMachine({
    id: 'nested',
    initial: 'a',
    states: { a: { initial: 'x', states: { x: {} } } },
  });
  t.throws(() => compileLifecycle(nested, ['a']), { message: /only flat machines/ });
  t.throws(() => compileLifecycle(seatMachine, ['available', 'held']), { message: /expected/ });
});

test('an XState persisted snapshot drops the pending hold timer, which is why deadlines live in context', (t) => {
  const clock = new SimulatedClock();
  const seat = createActor(seatMachine, { clock }).start();
  seat.send({ type: 'HOLD', reservationId: 'r1', at: 0, expiresAt: 300_000 });
  const persisted = JSON.parse(JSON.stringify(seat.getPersistedSnapshot()));
  const restored = createActor(seatMachine, {
    clock: new SimulatedClock(),
    snapshot: persisted,
  }).start();
  (restored.system as unknown as { _clock: SimulatedClock })._clock.increment(600_000);
  t.is(restored.getSnapshot().value, 'held', 'XState does not re-arm after timers on restore');
  t.is(
    restored.getSnapshot().context.expiresAt,
    300_000,
    'but the absolute deadline survives, so the engine can re-arm it',
  );
});

test('the compiled reservation table agrees with a live reservation actor on random event sequences', (t) => {
  t.notThrows(() =>
    conforms(
      reservationMachine,
      reservationLifecycle,
      fc.constantFrom({ type: 'PAY' }, { type: 'CANCEL' }),
    ),
  );
  t.deepEqual(
    Object.fromEntries(
      reservationLifecycle.states.map((state) => [
        state,
        [
          reservationLifecycle.next(state, 'PAY'),
          reservationLifecycle.next(state, 'CANCEL'),
          reservationLifecycle.next(state, TIMEOUT),
        ],
      ]),
    ),
    {
      held: ['paid', 'cancelled', 'expired'],
      paid: [undefined, undefined, undefined],
      expired: [undefined, undefined, undefined],
      cancelled: [undefined, undefined, undefined],
    },
  );
});

test('the machines run with the configured times as their delays', (t) => {
  const config = { ...defaultConfig, holdTtlMs: 123_000, tokenActiveTtlMs: 456_000 };
  const lifecycles = lifecyclesFor(config);
  t.is(lifecycles.reservation.delayOf('held'), 123_000);
  t.is(lifecycles.seat.delayOf('held'), 123_000);
  t.is(lifecycles.token.delayOf('active'), 456_000);
  t.is(
    lifecycles.token.delayOf('waiting'),
    undefined,
    'waiting has no timer: abandonment depends on polls, not on the machine',
  );
  t.is(lifecyclesFor(config), lifecycles, 'compiled once per configuration');
  // The same provided machine as a live actor: held for exactly the configured time.
  const clock = new SimulatedClock();
  const hold = createActor(reservationMachine.provide({ delays: { holdTtl: config.holdTtlMs } }), {
    clock,
  }).start();
  clock.increment(122_999);
  t.is(hold.getSnapshot().value, 'held');
  clock.increment(1);
  t.is(hold.getSnapshot().value, 'expired');
});
