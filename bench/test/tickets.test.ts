import test from 'ava';
import { perTicketListed, runTickets, ticketsTable } from '../src/engine/tickets.js';

// The tickets rows (issue 23) on a small scale, so that they cannot rot between bench runs:
// every row answers as expected and the invariants hold (runTickets throws otherwise).
test('the tickets bench runs its rows on the memory engine and checks the invariants after', async (t) => {
  const result = await runTickets('memory', 40, 100);
  t.is(result.signing.codes, 100);
  t.true(result.signing.signUs > 0 && result.signing.verifyUs > 0);
  const row = (prefix: string) => result.rows.find((r) => r.name.startsWith(prefix))!;
  t.deepEqual(row('refund').answers, { ok: 40 });
  t.deepEqual(row('check-in (').answers, { ok: 40 });
  t.deepEqual(row('check-in again').answers, { 'refused ALREADY_CHECKED_IN': 40 });
  t.deepEqual(row('check-in of a refunded').answers, { 'refused TICKET_VOID': 40 });
  t.regex(result.invariants, /^all hold/);
  t.true(perTicketListed(result)! > 0);
  t.regex(ticketsTable(result), /\| refund \(holder, Idempotency-Key/);
});
