import { compileLifecycle } from './compileLifecycle.js';
import { queueTokenMachine, type QueueTokenEvent, type QueueTokenState } from './queueTokenMachine.js';
import { seatMachine, type SeatEvent, type SeatState } from './seatMachine.js';

/** The seat machine as a table; compiled once per process. */
export const seatLifecycle = compileLifecycle<SeatState, SeatEvent['type']>(seatMachine, ['available', 'held', 'paid']);

/** The queue-token machine as a table; compiled once per process. */
export const queueTokenLifecycle = compileLifecycle<QueueTokenState, QueueTokenEvent['type']>(queueTokenMachine, [
  'waiting',
  'active',
  'expired',
]);
