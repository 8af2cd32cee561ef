import type { PaymentRecord, ReservationRecord, TicketRecord } from './persistence/records.js';
import { amountOf, seatsOf } from './rules/orders.js';
import type { Payment, Reservation, Ticket } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export function reservationView(record: ReservationRecord): Reservation {
  return {
    id: record.id,
    userId: record.userId,
    scheduleId: record.scheduleId,
    seatNo: record.seatNo,
    price: record.price,
    seats: seatsOf(record),
    amount: amountOf(record),
    status: record.status,
    createdAt: iso(record.createdAt),
    expiresAt: iso(record.expiresAt),
    extensions: record.extensions ?? 0,
    ...(record.origin === undefined ? {} : { origin: record.origin }),
  };
}

export function paymentView(record: PaymentRecord): Payment {
  return {
    id: record.id,
    reservationId: record.reservationId,
    userId: record.userId,
    amount: record.amount,
    balance: record.balance,
    createdAt: iso(record.createdAt),
  };
}

/** A ticket as its holder sees it (SPEC §11), without its code (see `withCode`). */
export function ticketView(record: TicketRecord): Ticket {
  const ended = record.endedAt === undefined ? undefined : iso(record.endedAt);
  return {
    id: record.id,
    reservationId: record.reservationId,
    scheduleId: record.scheduleId,
    concertId: record.concertId,
    seatNo: record.seatNo,
    price: record.price,
    holder: record.holder,
    status: record.status,
    createdAt: iso(record.createdAt),
    ...(record.checkedInAt === undefined ? {} : { checkedInAt: iso(record.checkedInAt) }),
    ...(record.status === 'refunded' && ended !== undefined ? { refundedAt: ended } : {}),
    ...(record.status === 'transferred' && ended !== undefined ? { transferredAt: ended } : {}),
  };
}
