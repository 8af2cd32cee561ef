import { setup } from 'xstate';

/** The states of a ticket (SPEC §11). Every state but `valid` is final. */
export type TicketState = 'valid' | 'checked_in' | 'refunded' | 'transferred';

export type TicketEvent =
  { readonly type: 'CHECK_IN' } | { readonly type: 'REFUND' } | { readonly type: 'TRANSFER' };

/**
 * The lifecycle of one ticket (SPEC §11): `valid --CHECK_IN--> checked_in`,
 * `valid --REFUND--> refunded` (its seat is free again, its price back in the
 * wallet), `valid --TRANSFER--> transferred` (a new ticket, with a new id and
 * code, is issued to the receiver). Each move happens once: a ticket leaves
 * `valid` at most once, so of many scans, refunds and transfers of one ticket
 * exactly one wins. Nothing edits a signed code: a transfer ends one ticket
 * and issues another.
 *
 * Engines use it compiled (see {@link lifecyclesFor}), as plain data.
 *
 * @example
 * ```ts
 * const ticket = createActor(ticketMachine).start();
 * ticket.send({ type: 'CHECK_IN' });
 * ticket.getSnapshot().value; // 'checked_in'
 * ticket.send({ type: 'REFUND' }); // ignored: checked in for good
 * ```
 */
export const ticketMachine = setup({
  types: { events: {} as TicketEvent },
}).createMachine({
  id: 'ticket',
  initial: 'valid',
  states: {
    valid: {
      on: {
        CHECK_IN: { target: 'checked_in' },
        REFUND: { target: 'refunded' },
        TRANSFER: { target: 'transferred' },
      },
    },
    checked_in: { type: 'final' },
    refunded: { type: 'final' },
    transferred: { type: 'final' },
  },
});
