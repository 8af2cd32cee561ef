import { RATE_LIMITS_TABLE } from '../../names.js';

/**
 * The tables. Every time is epoch ms (`bigint`) from the engine's injected
 * clock, passed in as a parameter; nothing reads `now()` for a rule.
 *
 * - One live reservation per seat: a partial unique index over `held` and
 *   `paid` reservations. Free seats have no row.
 * - One live token per user: a partial unique index over `waiting` and `active`.
 * - Money: `balance >= 0` and `balance = charged − paid`, checked by PostgreSQL.
 * - The queue: `seq` orders arrivals; `line` is the dense place in line the
 *   keeper gives arrivals at its next step, in `seq` order; `queue_ticks`
 *   publishes what every step changed in the line, so engines keep
 *   positions in memory.
 * - The room (SPEC §9): one row, the rules' `RoomState` plus two durable
 *   counters, written under the step lock.
 */
export const tables = /* sql */ `
CREATE TABLE concerts (
  id text PRIMARY KEY,
  record jsonb NOT NULL
);

CREATE TABLE schedules (
  id text PRIMARY KEY,
  concert_id text NOT NULL REFERENCES concerts (id),
  starts_at text NOT NULL,
  total_seats integer NOT NULL CHECK (total_seats > 0),
  record jsonb NOT NULL
);
CREATE INDEX schedules_by_concert ON schedules (concert_id);

CREATE TABLE reservations (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  schedule_id text NOT NULL REFERENCES schedules (id),
  seat_no integer NOT NULL CHECK (seat_no > 0),
  price bigint NOT NULL CHECK (price > 0),
  status text NOT NULL CHECK (status IN ('held', 'paid', 'expired', 'cancelled')),
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  ended_at bigint
);
-- Invariant 1, as a constraint: one held-or-paid reservation per seat.
CREATE UNIQUE INDEX reservations_live_seat ON reservations (schedule_id, seat_no) INCLUDE (status, expires_at)
  WHERE status IN ('held', 'paid');
CREATE INDEX reservations_held_by_user ON reservations (user_id) INCLUDE (expires_at) WHERE status = 'held';
CREATE INDEX reservations_held_deadline ON reservations (expires_at) WHERE status = 'held';
CREATE INDEX reservations_ended ON reservations (ended_at) WHERE status IN ('expired', 'cancelled');
-- A user's listing: their held and paid reservations, newest first.
CREATE INDEX reservations_live_by_user ON reservations (user_id, created_at DESC) WHERE status IN ('held', 'paid');

CREATE SEQUENCE token_seq;
CREATE TABLE tokens (
  token text PRIMARY KEY,
  user_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('waiting', 'active', 'expired')),
  -- Waiting tokens only: drawn under the arrivals' share of the step lock, so every number up to
  -- a step's seq_end is settled (committed or burnt) when that step runs.
  seq bigint,
  line bigint,
  issued_at bigint NOT NULL,
  -- Active: end of the active period. Expired (kept for replays): when it is forgotten. Waiting: 0.
  expires_at bigint NOT NULL,
  -- Last recorded poll while waiting (recorded lazily).
  last_seen_at bigint NOT NULL
);
CREATE UNIQUE INDEX tokens_live_user ON tokens (user_id) WHERE status IN ('waiting', 'active');
CREATE INDEX tokens_unlined ON tokens (seq) WHERE status = 'waiting' AND line IS NULL;
CREATE UNIQUE INDEX tokens_line ON tokens (line) WHERE status = 'waiting';
CREATE INDEX tokens_last_seen ON tokens (last_seen_at) WHERE status = 'waiting';
CREATE INDEX tokens_active_deadline ON tokens (expires_at) WHERE status = 'active';
CREATE INDEX tokens_kept ON tokens (expires_at) WHERE status = 'expired';

CREATE TABLE wallets (
  user_id text PRIMARY KEY,
  balance bigint NOT NULL CHECK (balance >= 0),
  charged bigint NOT NULL CHECK (charged >= 0),
  paid bigint NOT NULL CHECK (paid >= 0),
  CHECK (balance = charged - paid)
);

CREATE TABLE payments (
  id text PRIMARY KEY,
  reservation_id text NOT NULL UNIQUE,
  user_id text NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  balance bigint NOT NULL CHECK (balance >= 0),
  created_at bigint NOT NULL
);

CREATE TABLE idempotency_keys (
  user_id text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  result jsonb NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- One row per keeper step, numbered densely in commit order (steps hold one lock).
CREATE TABLE queue_ticks (
  no bigint PRIMARY KEY,
  at bigint NOT NULL,
  -- A scheduler tick (admits), rather than a catch-up step (only expires and lines up).
  real boolean NOT NULL,
  -- Highest line number given so far: lines (previous line_end, line_end] arrived in this step.
  line_end bigint NOT NULL,
  -- Highest token_seq drawn when this step ran: tokens without a line have a larger seq.
  seq_end bigint NOT NULL,
  -- Lines that left the waiting line in this step (admitted or abandoned).
  departed bigint[] NOT NULL,
  admitted integer NOT NULL,
  had_waiting boolean NOT NULL,
  waiting bigint NOT NULL,
  active bigint NOT NULL,
  -- No waiting token can be abandoned before this.
  next_abandon_at bigint NOT NULL,
  -- The room as the step left it (the rules' RoomState), so every engine's mirror knows it.
  room jsonb
);

-- The keeper's fencing epoch: a keeper writes only while the epoch is the one it took.
CREATE TABLE keeper (
  id integer PRIMARY KEY CHECK (id = 1),
  epoch bigint NOT NULL,
  holder text
);
INSERT INTO keeper (id, epoch) VALUES (1, 0);

-- The room: engines insert it at start from their configuration if it is not there yet.
CREATE TABLE room (
  id integer PRIMARY KEY CHECK (id = 1),
  paused boolean NOT NULL,
  admit_per_tick integer NOT NULL CHECK (admit_per_tick > 0),
  max_active integer NOT NULL CHECK (max_active > 0),
  opens_at bigint,
  shuffle boolean NOT NULL,
  pending_opening boolean NOT NULL,
  sold_out boolean NOT NULL DEFAULT false,
  -- Tokens ever admitted (by keeper steps and at issue: usher_count_admitted).
  admitted_total bigint NOT NULL DEFAULT 0 CHECK (admitted_total >= 0),
  -- Seats ever paid: each keeper tick adds what paid_log holds.
  paid_seats bigint NOT NULL DEFAULT 0 CHECK (paid_seats >= 0),
  -- The last opening's draw (see DrawnOrder): the seed orders the lines draw_from..draw_to.
  draw_seed text,
  draw_from bigint,
  draw_to bigint,
  -- The keeper's admissions in drawn order have passed every slot before this one.
  draw_cursor bigint,
  CHECK (NOT pending_opening OR opens_at IS NOT NULL),
  CHECK ((draw_seed IS NULL) = (draw_from IS NULL) AND (draw_seed IS NULL) = (draw_to IS NULL))
);

-- One row per payment, appended by a trigger (no index, no shared row: payments never wait on each
-- other for it); each keeper tick takes what is there into room.paid_seats. So sold-out is a
-- comparison of counters, never a count of seats.
CREATE TABLE paid_log (n bigint NOT NULL);

-- At least the active tokens once step \`tick\` had run, counting issues at once since (see usher_active_bound).
CREATE TABLE active_bound (
  id integer PRIMARY KEY CHECK (id = 1),
  bound bigint NOT NULL,
  tick bigint NOT NULL
);
INSERT INTO active_bound (id, bound, tick) VALUES (1, 0, 0);

-- The server's limit on joining, per client address, shared by every gateway: rate-limiter-flexible's
-- own table (RateLimiterPostgres, version 11), which the library is told exists.
CREATE TABLE ${RATE_LIMITS_TABLE} (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
`;
