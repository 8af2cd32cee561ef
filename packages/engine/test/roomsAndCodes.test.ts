import test from 'ava';
import { isEngineError } from '@usher/engine';
import {
  checkRoomInput,
  concertView,
  decideCreateCodes,
  decideIssue,
  decideTick,
  hashCode,
  initialRoom,
  lifecyclesFor,
  newDrawSeed,
  newPresaleCode,
  openRoom,
  requireTokenRoom,
  resolveConfig,
  roomOfConcert,
  type TokenState,
} from '@usher/engine/rules';

// The rules of rooms and presale codes (SPEC §12), as pure decisions.

const config = resolveConfig({ queueAdmitPerTick: 5, queueMaxActive: 10 });
const lifecycles = lifecyclesFor(config);
const NOW = 1_000_000;
const stock = { totalSeats: 10, heldSeats: 0, paidSeats: 0 };

const refusal = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return isEngineError(error) ? error.code : 'not an EngineError';
  }
  return undefined;
};

test("a catalog's room takes any of opensAt, maxActive, admitPerTick, shuffle, checked as an operator's change; the rest from the configuration", (t) => {
  t.deepEqual(checkRoomInput({ maxActive: 3 }, 'c'), { maxActive: 3 });
  for (const bad of [null, [], 'x', { paused: true }, { maxActive: 0 }, { opensAt: '2027-05-01' }])
    t.is(
      refusal(() => checkRoomInput(bad, 'c')),
      'VALIDATION_FAILED',
      JSON.stringify(bad),
    );
  const room = openRoom(
    config,
    { opensAt: new Date(NOW + 60_000).toISOString(), maxActive: 3 },
    NOW,
  );
  t.like(room, { maxActive: 3, admitPerTick: 5, pendingOpening: true, opensAt: NOW + 60_000 });
  t.like(openRoom(config, {}, NOW), initialRoom(config));
  t.is(roomOfConcert({ id: 'c' }), 'default');
  t.is(roomOfConcert({ id: 'c', room: {} }), 'c');
  t.deepEqual(concertView({ id: 'c', title: 'T', room: { maxActive: 3 } }), {
    id: 'c',
    title: 'T',
    room: 'c',
  });
  t.deepEqual(concertView({ id: 'c', title: 'T' }), { id: 'c', title: 'T' });
});

test('a live token of another room is TOKEN_WRONG_ROOM; an ended one, or nothing found, is left to the route', (t) => {
  const token: TokenState = {
    token: 't',
    userId: 'ann',
    status: 'active',
    seq: 1,
    issuedAt: NOW,
    expiresAt: NOW + 1_000,
    room: 'a',
  };
  t.notThrows(() => requireTokenRoom(token, 'a', NOW, lifecycles));
  t.is(
    refusal(() => requireTokenRoom(token, 'b', NOW, lifecycles)),
    'TOKEN_WRONG_ROOM',
  );
  t.is(
    refusal(() => requireTokenRoom(token, 'default', NOW, lifecycles)),
    'TOKEN_WRONG_ROOM',
  );
  t.notThrows(() => requireTokenRoom(token, undefined, NOW, lifecycles));
  t.notThrows(() => requireTokenRoom(token, 'b', NOW + 1_000, lifecycles), 'expired by then');
  t.notThrows(() => requireTokenRoom({ ...token, room: undefined }, 'default', NOW, lifecycles));
});

test('codes are fresh, unguessable, and stored as their hashes; a join spends a usable one with its token, refuses any other, and a retry spends nothing', (t) => {
  const { changes, answer } = decideCreateCodes('a', 3, newPresaleCode);
  t.is(answer.codes.length, 3);
  t.is(new Set(answer.codes).size, 3);
  for (const code of answer.codes) t.regex(code, /^P-[A-Za-z0-9_-]{20}$/);
  t.deepEqual(changes, [{ type: 'codesCreated', room: 'a', hashes: answer.codes.map(hashCode) }]);
  for (const count of [0, 1_001, 1.5, '2'])
    t.is(
      refusal(() => decideCreateCodes('a', count, newPresaleCode)),
      'VALIDATION_FAILED',
    );

  const room = initialRoom(config);
  const view = { live: undefined, waiting: 3, active: 10, room, roomId: 'a' };
  const fresh = { token: 'new', seq: 9 };
  const joined = decideIssue(
    { ...view, code: { hash: 'h', usable: true } },
    'ann',
    NOW,
    config,
    lifecycles,
    fresh,
  );
  t.like(joined.answer.token, { status: 'waiting', room: 'a', priority: true });
  t.like(joined.changes[1], { type: 'codeSpent', room: 'a', hash: 'h', at: NOW });
  t.is(
    refusal(() =>
      decideIssue(
        { ...view, code: { hash: 'h', usable: false } },
        'ann',
        NOW,
        config,
        lifecycles,
        fresh,
      ),
    ),
    'CODE_INVALID',
  );
  const live = joined.answer.token;
  const retry = decideIssue(
    { ...view, live, code: { hash: 'h', usable: false } },
    'ann',
    NOW,
    config,
    lifecycles,
    fresh,
  );
  t.deepEqual(retry, { changes: [], answer: { token: live, created: false } });
});

test('code holders are admitted before the opening (unless paused), by the same count and never past maxActive', (t) => {
  const waiting = openRoom(config, { opensAt: new Date(NOW + 60_000).toISOString() }, NOW);
  const tick = (room = waiting, active = 8, priorityWaiting = 4) =>
    decideTick(
      { room, waiting: 20, priorityWaiting, active, stock, opening: null },
      NOW,
      lifecycles,
      newDrawSeed,
    ).answer.admitted;
  t.is(tick(), 2, 'two places under maxActive 10');
  t.is(tick(waiting, 0), 4, 'the code holders only, before the opening');
  t.is(tick(waiting, 0, 0), 0, 'nobody else before the opening');
  t.is(tick({ ...waiting, paused: true }, 0), 0, 'paused admits nobody');
  t.is(tick(waiting, 10), 0);
  t.is(tick(initialRoom(config), 0), 5, 'open: admitPerTick, code holders first');
});
