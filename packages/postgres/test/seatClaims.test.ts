import test from 'ava';
import { SeatClaims } from '../src/commands/SeatClaims.js';

test('a pick leaves alone seats another command of the gateway committed after its read started', (t) => {
  const claims = new SeatClaims();
  const early = claims.startRead(); // its snapshot may be older than the commit below
  claims.claim('s', [1, 2]);
  t.true(claims.isLeftAlone('s', 1, early), 'picked by a command in flight');
  claims.release('s', [1, 2]);
  claims.committed('s', [1, 2]);
  t.true(
    claims.isLeftAlone('s', 1, early),
    'committed after the read started: maybe free in its snapshot',
  );
  t.true(claims.isLeftAlone('s', 2, early));
  t.false(claims.isLeftAlone('s', 3, early));
  const late = claims.startRead(); // started after the commit: its snapshot sees the seats taken
  t.false(claims.isLeftAlone('s', 1, late));
  t.false(claims.isLeftAlone('t', 1, early), 'another schedule');
  claims.endRead(early);
  claims.endRead(late);
  t.false(claims.hasAny('s'), 'forgotten once no older read is in flight');
});

test('commits are forgotten in order as the reads that might miss them end', (t) => {
  const claims = new SeatClaims();
  const first = claims.startRead();
  claims.committed('s', [1]);
  const second = claims.startRead();
  claims.committed('s', [2]);
  t.true(claims.isLeftAlone('s', 1, first));
  t.true(claims.isLeftAlone('s', 2, second));
  t.false(claims.isLeftAlone('s', 1, second));
  claims.endRead(first);
  t.false(claims.isLeftAlone('s', 1, second));
  t.true(claims.isLeftAlone('s', 2, second), 'still needed by the second read');
  t.true(claims.hasAny('s'));
  claims.endRead(second);
  t.false(claims.hasAny('s'));
});

test('a commit with no read in flight is not kept, and a seat picked twice stays claimed until both give it up', (t) => {
  const claims = new SeatClaims();
  claims.committed('s', [1]);
  t.false(claims.hasAny('s'));
  claims.claim('s', [5]);
  claims.claim('s', [5]);
  claims.release('s', [5]);
  const read = claims.startRead();
  t.true(claims.isLeftAlone('s', 5, read));
  claims.release('s', [5]);
  t.false(claims.isLeftAlone('s', 5, read));
  claims.endRead(read);
  t.false(claims.hasAny('s'));
});
