/**
 * Rooms of concerts on PostgreSQL (issue 25, SPEC §12), the tables' part. A
 * room's data is keyed by its room (the seam for moving a room to a primary
 * of its own, see docs/scaling.md):
 *
 * - `tokens.room`: the room a token stands in, `'default'` or its concert's
 *   id (every token from before says `'default'`, the column's default). The
 *   predicates take the `tokens` row as before, so each is still stated once
 *   for every room.
 * - One live token per user per room, and a line numbered per room: the
 *   unique indexes `tokens_live_user_room` and `tokens_room_line` replace the
 *   baseline's `tokens_live_user` and `tokens_line` (the one drop of this
 *   schema's history, allowed by name in test/migrations.test.ts: a gateway
 *   of an older release names the old arbiter and must be stopped first).
 * - `rooms`: one row per room of a concert, keyed by its id, with the default
 *   room's `room` row's columns and checks; `room_states` shows every room,
 *   the default one included, by id.
 * - `room_paid_log`: the seats paid in a concert's room, with their room, taken
 *   by each tick into `rooms.paid_seats` as `paid_log` is into `room`.
 * - `queue_ticks.rooms`: a step's part for each room of a concert (the
 *   default room's stays in the row's columns).
 */
export const tables = /* sql */ `
-- The room a token stands in: 'default', or the id of the concert whose room it joined.
ALTER TABLE tokens ADD COLUMN room text NOT NULL DEFAULT 'default' CHECK (room <> '');

-- One live token per user per room; a line per room; the active tokens of a room by deadline.
CREATE UNIQUE INDEX tokens_live_user_room ON tokens (user_id, room) WHERE status IN ('waiting', 'active');
CREATE UNIQUE INDEX tokens_room_line ON tokens (room, line) WHERE status = 'waiting';
CREATE INDEX tokens_room_active ON tokens (room, expires_at) WHERE status = 'active';
DROP INDEX tokens_live_user;
DROP INDEX tokens_line;

-- Rooms of concerts, one row each, keyed by the room's id (its concert's id); the default room is
-- the one-row room table. The same columns and checks as that row.
CREATE TABLE rooms (
  id text PRIMARY KEY CHECK (id <> '' AND id <> 'default'),
  paused boolean NOT NULL,
  admit_per_tick integer NOT NULL CHECK (admit_per_tick > 0),
  max_active integer NOT NULL CHECK (max_active > 0),
  opens_at bigint,
  shuffle boolean NOT NULL,
  pending_opening boolean NOT NULL,
  sold_out boolean NOT NULL DEFAULT false,
  admitted_total bigint NOT NULL DEFAULT 0 CHECK (admitted_total >= 0),
  paid_seats bigint NOT NULL DEFAULT 0 CHECK (paid_seats >= 0),
  draw_seed text,
  draw_from bigint,
  draw_to bigint,
  draw_cursor bigint,
  CHECK (NOT pending_opening OR opens_at IS NOT NULL),
  CHECK ((draw_seed IS NULL) = (draw_from IS NULL) AND (draw_seed IS NULL) = (draw_to IS NULL))
);

-- Every room by id, the default one included: what the commands and the keeper read a room from.
CREATE VIEW room_states AS
  SELECT 'default'::text AS id, paused, admit_per_tick, max_active, opens_at, shuffle, pending_opening, sold_out,
         admitted_total, paid_seats, draw_seed, draw_from, draw_to, draw_cursor
    FROM room WHERE id = 1
  UNION ALL
  SELECT id, paused, admit_per_tick, max_active, opens_at, shuffle, pending_opening, sold_out,
         admitted_total, paid_seats, draw_seed, draw_from, draw_to, draw_cursor
    FROM rooms;

-- Seats paid in a concert's room (no index, no shared row, as paid_log); each tick takes its room's rows.
CREATE TABLE room_paid_log (room text NOT NULL, n bigint NOT NULL);

-- A step's part for each room of a concert: {"<room>": {lineEnd, departed, admitted, hadWaiting, waiting, active, room}}.
ALTER TABLE queue_ticks ADD COLUMN rooms jsonb;
`;
