import { checkClaims } from '../rules/tickets.js';
import type { Ticket, TicketClaims } from '../types.js';
import type { SigningKeys } from './keys.js';

/** Longest text taken as a ticket code (ours are about 300 characters); longer does not verify. */
export const MAX_TICKET_CODE_LENGTH = 2048;

/** What a ticket's code signs (SPEC §11): `{ tid, sch, seat, sub }`, in this order. */
export function ticketClaims(
  ticket: Pick<Ticket, 'id' | 'scheduleId' | 'seatNo' | 'holder'>,
): TicketClaims {
  return { tid: ticket.id, sch: ticket.scheduleId, seat: ticket.seatNo, sub: ticket.holder };
}

/**
 * A ticket's code: a compact JWS (`alg: EdDSA`, the `ticket` key's `kid`)
 * over {@link ticketClaims}. Ed25519 signatures are deterministic, so a
 * ticket's code is the same whenever and wherever it is computed with the
 * same key: engines keep no codes, and every gateway answers the same one.
 * The one place codes are made, for both engines.
 *
 * @example
 * ```ts
 * const code = await ticketCode(keys, ticket); // the QR code's text
 * ```
 */
export function ticketCode(
  keys: SigningKeys,
  ticket: Pick<Ticket, 'id' | 'scheduleId' | 'seatNo' | 'holder'>,
): Promise<string> {
  return keys.sign('ticket', { ...ticketClaims(ticket) });
}

/** The ticket with its `code` (see {@link ticketCode}), as the API answers it. */
export async function withCode<T extends Ticket>(
  keys: SigningKeys,
  ticket: T,
): Promise<T & { readonly code: string }> {
  return { ...ticket, code: await ticketCode(keys, ticket) };
}

/**
 * The claims of `code` when one of the key set's `ticket` keys (current,
 * retired or a rotation's previous) signed it and it carries a ticket's
 * claims; `undefined` for anything else (a forged, mangled, foreign or pass
 * code). What the door checks before the engine's `checkIn`.
 *
 * @example
 * ```ts
 * const claims = await verifyTicketCode(keys, scanned);
 * if (claims === undefined) refuse('TICKET_INVALID');
 * else await engine.checkIn(claims);
 * ```
 */
export async function verifyTicketCode(
  keys: SigningKeys,
  code: unknown,
): Promise<TicketClaims | undefined> {
  if (typeof code !== 'string' || code.length === 0 || code.length > MAX_TICKET_CODE_LENGTH)
    return undefined;
  try {
    return checkClaims(await keys.verify('ticket', code));
  } catch {
    return undefined;
  }
}
