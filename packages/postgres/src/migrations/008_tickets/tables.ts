/**
 * Issue 23's additions to the tables (SPEC §11, tickets):
 *
 * - `tickets`: one row per seat of every paid reservation, written in the
 *   payment's transaction, and one more per transfer (the receiver's). A
 *   ticket is `valid`, then `checked_in`, `refunded` or `transferred`, each
 *   final; a transfer's new row names the old one (`transferred_from`) and
 *   the old one it (`transferred_to`). The partial unique index
 *   `tickets_live_seat` keeps a seat in at most one valid or checked-in
 *   ticket, and a conditional update from `valid` (the applies) makes a
 *   check-in, a refund and a transfer of one ticket exclusive: of any number
 *   of them at once, on any gateways, one changes the row.
 * - `wallets.refunded`: money given back by refunds. A refund credits the
 *   wallet as a charge does (`balance` and `charged` both grow, so
 *   migration 1's `balance = charged − paid` still holds) and says so here:
 *   the charges proper are `charged − refunded` (the rules'
 *   `WalletRecord.charged`, as `readContents` maps it), and every wallet is
 *   `charges − payments + refunds`.
 * - `parked_seats`: numbers for the first seat of a reservation whose every
 *   seat was refunded (see `usher_free_ticket_seat`): migration 1's
 *   `reservations_live_seat` keeps two live reservations from starting at
 *   one seat, and a paid reservation stays paid after its refunds, so it
 *   moves its `seat_no` out of the way (past every real seat; its seats,
 *   `seats[0]`, still say which seat it started at).
 */
export const tables = /* sql */ `
CREATE TABLE tickets (
  id text PRIMARY KEY,
  reservation_id text NOT NULL REFERENCES reservations (id),
  schedule_id text NOT NULL,
  seat_no integer NOT NULL CHECK (seat_no > 0),
  price bigint NOT NULL CHECK (price > 0),
  holder text NOT NULL,
  status text NOT NULL CHECK (status IN ('valid', 'checked_in', 'refunded', 'transferred')),
  checked_in_at bigint,
  -- When it was refunded or transferred; a refund's, by whom.
  ended_at bigint,
  refunded_by text CHECK (refunded_by IN ('holder', 'operator')),
  transferred_from text UNIQUE REFERENCES tickets (id),
  transferred_to text UNIQUE,
  created_at bigint NOT NULL,
  CHECK ((status = 'checked_in') = (checked_in_at IS NOT NULL)),
  CHECK ((status IN ('refunded', 'transferred')) = (ended_at IS NOT NULL)),
  CHECK ((status = 'transferred') = (transferred_to IS NOT NULL)),
  CHECK ((status = 'refunded') = (refunded_by IS NOT NULL))
);
-- Every seat in at most one valid or checked-in ticket.
CREATE UNIQUE INDEX tickets_live_seat ON tickets (schedule_id, seat_no) WHERE status IN ('valid', 'checked_in');
-- A holder's tickets, newest first (GET /tickets), and their live ones of a schedule (MAX_TICKETS_PER_USER).
CREATE INDEX tickets_by_holder ON tickets (holder, created_at DESC, id);
CREATE INDEX tickets_live_by_holder ON tickets (holder, schedule_id) WHERE status IN ('valid', 'checked_in');
CREATE INDEX tickets_by_reservation ON tickets (reservation_id);
-- The tickets of the reservations paid before this migration: one per paid seat, issued when it was paid,
-- with the ids a payment gives them (ticketIdOf: '<reservation>-<seat>').
INSERT INTO tickets (id, reservation_id, schedule_id, seat_no, price, holder, status, created_at)
  SELECT s.reservation_id || '-' || s.seat_no, s.reservation_id, s.schedule_id, s.seat_no,
         coalesce((SELECT (e->>'price')::bigint FROM jsonb_array_elements(r.seats) e
                    WHERE (e->>'seatNo')::integer = s.seat_no), r.price),
         r.user_id, 'valid', coalesce(r.ended_at, r.created_at)
    FROM reservation_seats s JOIN reservations r ON r.id = s.reservation_id
   WHERE s.status = 'paid';

ALTER TABLE wallets ADD COLUMN refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0);
ALTER TABLE wallets ADD CONSTRAINT wallets_refunds_credited CHECK (refunded <= charged);

CREATE SEQUENCE parked_seats;
`;
