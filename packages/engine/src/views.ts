import type { PaymentRecord, ReservationRecord } from './persistence/records.js';
import { amountOf, seatsOf } from './rules/orders.js';
import type { Payment, Reservation } from './types.js';

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
