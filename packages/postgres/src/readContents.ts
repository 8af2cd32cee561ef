import { DEFAULT_ROOM } from '@usher/engine/rules';
import pg from 'pg';
import {
  emptyContents,
  type IdempotencyRecord,
  type QueueTokenState,
  type ReservationStatus,
  type StoreContents,
  type TokenEndReason,
} from '@usher/engine';
import { ALL_TICKETS, ticketRecord } from './commands/tickets.js';
import { orderFields, RESERVATION_COLUMNS } from './reads.js';
import { ROOM_COLUMNS, roomRow } from './room.js';

/**
 * What a PostgreSQL engine's database durably holds, as the embedded engine's
 * `StoreContents`, so one invariant check (`invariantViolations`) and one set
 * of assertions read both engines: for tests, the bench and audits, not for
 * serving (it reads every table). It reads the tables of `@usher/postgres`'s
 * migrations directly (`bigint`s come back as strings from `pg`, hence
 * `Number`), in one `REPEATABLE READ` transaction so the collections agree.
 *
 * The mapping is lossless for what the tests compare (reservations, wallets,
 * payments, idempotency keys, the catalog, the room and its admitted total,
 * spent proof-of-work solutions, a kept token's reason). Tokens differ by design: the
 * PostgreSQL engine numbers only waiting tokens (`seq` is `0` here for the
 * others) and keeps its queue bookkeeping (`line`, `last_seen_at`) apart.
 *
 * @example
 * ```ts
 * import { invariantViolations } from '@usher/engine';
 * import { readContents } from '@usher/postgres';
 *
 * const violations = invariantViolations(await readContents(process.env.DATABASE_URL!));
 * ```
 */
export async function readContents(connectionString: string): Promise<StoreContents> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const rows = async (sql: string) => (await client.query<Record<string, unknown>>(sql)).rows;
    const contents = emptyContents();
    for (const row of await rows('SELECT id, record FROM concerts ORDER BY id')) {
      contents.concerts.set(String(row['id']), row['record'] as never);
    }
    for (const row of await rows('SELECT id, record FROM schedules ORDER BY id')) {
      contents.schedules.set(String(row['id']), row['record'] as never);
    }
    for (const row of await rows(
      'SELECT token, user_id, status, seq, issued_at, expires_at, reason, room FROM tokens ORDER BY issued_at, token',
    )) {
      const status = row['status'] as QueueTokenState;
      const common = {
        token: String(row['token']),
        userId: String(row['user_id']),
        status,
        seq: Number(row['seq'] ?? 0),
        issuedAt: Number(row['issued_at']),
        ...(row['room'] === DEFAULT_ROOM ? {} : { room: String(row['room']) }),
      };
      contents.tokens.set(
        common.token,
        status === 'waiting'
          ? common
          : {
              ...common,
              expiresAt: Number(row['expires_at']),
              ...(row['reason'] === null ? {} : { reason: row['reason'] as TokenEndReason }),
            },
      );
    }
    for (const row of await rows('SELECT hash, room, spent_at FROM presale_codes ORDER BY hash')) {
      const spentAt = row['spent_at'];
      contents.codes.set(String(row['hash']), {
        room: String(row['room']),
        ...(spentAt === null ? {} : { spentAt: Number(spentAt) }),
      });
    }
    for (const row of await rows('SELECT id, expires_at FROM spent_challenges ORDER BY id')) {
      contents.spent.set(String(row['id']), { expiresAt: Number(row['expires_at']) });
    }
    for (const row of await rows(
      `SELECT ${RESERVATION_COLUMNS} FROM reservations ORDER BY created_at, id`,
    )) {
      const id = String(row['id']);
      contents.reservations.set(id, {
        id,
        userId: String(row['user_id']),
        scheduleId: String(row['schedule_id']),
        seatNo: Number(row['seat_no']),
        price: Number(row['price']),
        ...orderFields(row),
        status: row['status'] as ReservationStatus,
        createdAt: Number(row['created_at']),
        expiresAt: Number(row['expires_at']),
        ...(Number(row['extensions'] ?? 0) > 0 ? { extensions: Number(row['extensions']) } : {}),
        ...(row['ended_at'] === null ? {} : { endedAt: Number(row['ended_at']) }),
        ...(row['origin'] === 'waitlist' ? { origin: 'waitlist' as const } : {}),
      });
    }
    // The waitlist (migration 9), under String(seq) as the embedded engine keeps it.
    for (const row of await rows(
      'SELECT schedule_id, user_id, seq, quantity, offered, joined_at FROM waitlist ORDER BY seq',
    )) {
      const seq = Number(row['seq']);
      contents.waitlist.set(String(seq), {
        scheduleId: String(row['schedule_id']),
        userId: String(row['user_id']),
        seq,
        quantity: Number(row['quantity']),
        offered: Number(row['offered']),
        joinedAt: Number(row['joined_at']),
      });
    }
    for (const row of await rows(
      'SELECT user_id, balance, charged, paid, refunded FROM wallets ORDER BY user_id',
    )) {
      const userId = String(row['user_id']);
      // A refund grows `charged` too (migration 8): the charges proper are the rest.
      const refunded = Number(row['refunded']);
      contents.wallets.set(userId, {
        userId,
        balance: Number(row['balance']),
        charged: Number(row['charged']) - refunded,
        paid: Number(row['paid']),
        ...(refunded > 0 ? { refunded } : {}),
      });
    }
    for (const row of await rows(ALL_TICKETS)) {
      const ticket = ticketRecord(row);
      contents.tickets.set(ticket.id, ticket);
    }
    for (const row of await rows('SELECT * FROM payments ORDER BY created_at, id')) {
      const id = String(row['id']);
      contents.payments.set(id, {
        id,
        reservationId: String(row['reservation_id']),
        userId: String(row['user_id']),
        amount: Number(row['amount']),
        balance: Number(row['balance']),
        createdAt: Number(row['created_at']),
      });
    }
    for (const row of await rows(
      'SELECT user_id, key, fingerprint, result, created_at FROM idempotency_keys ORDER BY created_at',
    )) {
      const record: IdempotencyRecord = {
        userId: String(row['user_id']),
        key: String(row['key']),
        fingerprint: String(row['fingerprint']),
        result: row['result'],
        createdAt: Number(row['created_at']),
      };
      // The embedded engine's key for a user's idempotency key.
      contents.idempotency.set(JSON.stringify([record.userId, record.key]), record);
    }
    for (const row of await rows(`SELECT ${ROOM_COLUMNS} FROM room`)) {
      const { room, admittedTotal } = roomRow(row);
      contents.room.set('room', room);
      contents.counters.set('admittedTotal', { value: admittedTotal });
    }
    for (const row of await rows(`SELECT id, ${ROOM_COLUMNS} FROM rooms ORDER BY id`)) {
      const { room, admittedTotal } = roomRow(row);
      contents.rooms.set(String(row['id']), { room, admittedTotal });
    }
    await client.query('COMMIT');
    return contents;
  } finally {
    await client.end();
  }
}
