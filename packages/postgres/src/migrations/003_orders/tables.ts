/**
 * Issue 22's additions to the tables (SPEC §10, orders of several seats):
 *
 * - `reservations.seats` (the seats, ascending, as the rule built them:
 *   `[{ seatNo, price, category? }]`; `NULL` on a row of one seat written
 *   before orders, whose seat is `seat_no`), `amount` (their sum; `NULL`:
 *   `price`) and `extensions` (how many times the hold was extended).
 * - `reservation_seats`: one row per seat of every reservation, following
 *   its reservation's status and deadline (triggers, see `orders.ts`). Its
 *   partial unique index `reservation_seats_live` is invariant 1 seat by
 *   seat: no seat in two live reservations, whatever writes the reservation
 *   (migration 1's one-seat hold included). `reservations_live_seat` stays:
 *   it now says that no two live reservations start at the same seat.
 */
export const tables = /* sql */ `
ALTER TABLE reservations ADD COLUMN seats jsonb CHECK (jsonb_typeof(seats) = 'array' AND jsonb_array_length(seats) > 0);
ALTER TABLE reservations ADD COLUMN amount bigint CHECK (amount > 0);
ALTER TABLE reservations ADD COLUMN extensions integer NOT NULL DEFAULT 0 CHECK (extensions >= 0);

CREATE TABLE reservation_seats (
  reservation_id text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
  seat_no integer NOT NULL CHECK (seat_no > 0),
  schedule_id text NOT NULL,
  user_id text NOT NULL,
  -- Its reservation's, kept equal by the triggers.
  status text NOT NULL CHECK (status IN ('held', 'paid', 'expired', 'cancelled')),
  expires_at bigint NOT NULL,
  PRIMARY KEY (reservation_id, seat_no)
);
-- Invariant 1, seat by seat: no seat in two held-or-paid reservations.
CREATE UNIQUE INDEX reservation_seats_live ON reservation_seats (schedule_id, seat_no) INCLUDE (status, expires_at)
  WHERE status IN ('held', 'paid');
-- The seats of the reservations that exist already (one each).
INSERT INTO reservation_seats (reservation_id, seat_no, schedule_id, user_id, status, expires_at)
  SELECT id, seat_no, schedule_id, user_id, status, expires_at FROM reservations;
`;
