/**
 * Issue 23's waitlist (SPEC §11, "Waitlist") in the tables:
 *
 * - `waitlist`: one row per user waiting on a schedule (the primary key:
 *   one entry per user and schedule), in the order they joined (`seq`, an
 *   identity: strictly increasing, drawn under the schedule's waitlist lock
 *   held exclusively, so a later join always has a larger one). `offered`
 *   counts the seats offered so far, never more than `quantity`; an entry
 *   is deleted when it reaches `quantity` (fulfilled) or its user leaves.
 *   `waitlist_order` reads a schedule's list in order (the head when seats
 *   are freed, the place of an entry).
 * - `reservations.origin`: `waitlist` for a hold offered from the list
 *   (its owner may pay, extend or cancel it with any known token of theirs);
 *   `NULL` for a hold its user took.
 */
export const tables = /* sql */ `
CREATE TABLE waitlist (
  schedule_id text NOT NULL REFERENCES schedules (id),
  user_id text NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  quantity integer NOT NULL CHECK (quantity > 0),
  offered integer NOT NULL DEFAULT 0 CHECK (offered >= 0),
  joined_at bigint NOT NULL,
  PRIMARY KEY (schedule_id, user_id),
  CHECK (offered <= quantity)
);
CREATE UNIQUE INDEX waitlist_order ON waitlist (schedule_id, seq);

ALTER TABLE reservations ADD COLUMN origin text CHECK (origin IN ('waitlist'));
`;
