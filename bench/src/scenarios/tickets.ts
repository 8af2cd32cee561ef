/**
 * The tickets rows through HTTP (issue 23, SPEC §11), run after the checkout has paid every
 * buyer's holds (each buyer then has `perBuyer` tickets of the `checkout` date): `GET /tickets`
 * of every buyer once (codes are computed at read), holders' refunds (`Idempotency-Key`, each a
 * distinct ticket: half of every buyer's tickets) and door check-ins (`POST /checkin` with the
 * scanner token, the other half). The checks: every listing complete, every refund `200`, every
 * check-in `200`; what the server keeps is checked afterwards with the other invariants
 * (`invariants.ts`: each wallet refunded exactly what was acknowledged, `invariantViolations`).
 */
import type { HttpScenario, ScenarioResult } from '../http/scenario.js';
import { check, type Ledger } from './invariants.js';
import type { User } from './http.js';
import { PRICE } from './usherServer.js';

/** The door scanners' token of the bench servers (`SCANNER_TOKEN`: turns `POST /checkin` on). */
export const SCANNER_TOKEN = 'bench-scanner-token-0123456789';
/**
 * The tickets rows need every hold of the checkout paid: on a slow host (a PostgreSQL target at load
 * average 20 on 2 cores) the run from the holds to their payment outlasted the default 5-minute hold
 * (9,233 of 15,050 `409 HOLD_EXPIRED`), so holds last an hour with them.
 */
export const TICKETS_ENV = { SCANNER_TOKEN, HOLD_TTL_MS: '3600000' };

interface ListedTicket {
  readonly id: string;
  readonly seatNo: number;
  readonly status: string;
  readonly code: string;
}

const auth = (user: User) => ({ authorization: `Bearer ${user.token}` });

/** `GET /tickets` of every buyer once; `listed` fills with each buyer's tickets. */
export function listTickets(
  buyers: readonly User[],
  perBuyer: number,
): { scenario: HttpScenario; listed: Map<string, ListedTicket[]> } {
  const listed = new Map<string, ListedTicket[]>();
  return {
    listed,
    scenario: {
      name: `tickets: GET /tickets (${perBuyer} tickets each)`,
      baseline: 'koa-get',
      limit: { requests: buyers.length },
      // Round the buyers again when run for a time (the warm-up): the same answers.
      request: (i) => ({
        method: 'GET',
        path: '/tickets',
        headers: auth(buyers[i % buyers.length]!),
      }),
      onResponse: (status, body, i) => {
        if (status === 200)
          listed.set(
            buyers[i % buyers.length]!.userId,
            (JSON.parse(body) as { tickets: ListedTicket[] }).tickets,
          );
      },
    },
  };
}

/** Checks the listing, and splits each buyer's tickets: the first half refunded, the other checked in. */
export function splitTickets(
  buyers: readonly User[],
  perBuyer: number,
  result: ScenarioResult,
  listed: Map<string, ListedTicket[]>,
): { refunds: { user: User; ticketId: string }[]; codes: string[] } {
  check(
    result.answers['200'] === buyers.length,
    `${result.name}: ${JSON.stringify(result.answers)}`,
  );
  const refunds: { user: User; ticketId: string }[] = [];
  const codes: string[] = [];
  for (const user of buyers) {
    const tickets = listed.get(user.userId) ?? [];
    check(
      tickets.length === perBuyer && tickets.every((t) => t.status === 'valid' && t.code),
      `${result.name}: ${user.userId} has ${tickets.length} tickets, ${perBuyer} valid expected`,
    );
    const bySeat = [...tickets].sort((a, b) => a.seatNo - b.seatNo);
    for (const [k, ticket] of bySeat.entries())
      if (k < perBuyer / 2) refunds.push({ user, ticketId: ticket.id });
      else codes.push(ticket.code);
  }
  return { refunds, codes };
}

/** `POST /tickets/:id/refund` of each ticket once, by its holder, with a key (a lost answer is asked again with it). */
export function refunds(
  list: readonly { user: User; ticketId: string }[],
  ledger: Ledger,
): HttpScenario {
  return {
    name: 'tickets: POST /tickets/:id/refund (holder, Idempotency-Key)',
    baseline: 'koa-post',
    limit: { requests: list.length },
    retryUnanswered: true,
    request: (i) => ({
      method: 'POST',
      path: `/tickets/${list[i]!.ticketId}/refund`,
      headers: { ...auth(list[i]!.user), 'idempotency-key': `refund-${list[i]!.ticketId}` },
    }),
    onResponse: (status, _body, i) => {
      if (status === 200) ledger.refund(list[i]!.user.userId, PRICE);
    },
  };
}

/** `POST /checkin` of each code once, with the scanner token. */
export function checkIns(codes: readonly string[]): HttpScenario {
  return {
    name: 'tickets: POST /checkin (scanner)',
    baseline: 'koa-post',
    limit: { requests: codes.length },
    request: (i) => ({
      method: 'POST',
      path: '/checkin',
      headers: { authorization: `Bearer ${SCANNER_TOKEN}` },
      body: { code: codes[i]! },
    }),
  };
}

/** Every request of a row answered `status`. */
export function checkAll(result: ScenarioResult, count: number, status: string): void {
  check(
    result.answers[status] === count && Object.keys(result.answers).length === 1,
    `${result.name}: ${JSON.stringify(result.answers)}, ${count} × ${status} expected`,
  );
}
