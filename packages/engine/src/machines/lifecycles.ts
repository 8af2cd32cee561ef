import type { EngineConfig } from '../config.js';
import { compileLifecycle, type Lifecycle } from './compileLifecycle.js';
import {
  queueTokenMachine,
  type QueueTokenEvent,
  type QueueTokenState,
} from './queueTokenMachine.js';
import {
  reservationMachine,
  type ReservationEvent,
  type ReservationState,
} from './reservationMachine.js';
import { seatMachine, type SeatEvent, type SeatState } from './seatMachine.js';
import { ticketMachine, type TicketEvent, type TicketState } from './ticketMachine.js';

/** The seat machine as a table; compiled once per process. */
export const seatLifecycle = compileLifecycle<SeatState, SeatEvent['type']>(seatMachine, [
  'available',
  'held',
  'paid',
]);

/** The queue-token machine as a table; compiled once per process. */
export const queueTokenLifecycle = compileLifecycle<QueueTokenState, QueueTokenEvent['type']>(
  queueTokenMachine,
  ['waiting', 'active', 'expired'],
);

/** The reservation machine as a table; compiled once per process. */
export const reservationLifecycle = compileLifecycle<ReservationState, ReservationEvent['type']>(
  reservationMachine,
  ['held', 'paid', 'expired', 'cancelled'],
);

/** The ticket machine as a table (SPEC §11); compiled once per process. */
export const ticketLifecycle = compileLifecycle<TicketState, TicketEvent['type']>(ticketMachine, [
  'valid',
  'checked_in',
  'refunded',
  'transferred',
]);

/** The lifecycles with the configured times as their delays: what the rules read deadlines from. */
export interface Lifecycles {
  readonly seat: Lifecycle<SeatState, SeatEvent['type']>;
  readonly token: Lifecycle<QueueTokenState, QueueTokenEvent['type']>;
  readonly reservation: Lifecycle<ReservationState, ReservationEvent['type']>;
  /** Tickets have no timers: the same table for every configuration. */
  readonly ticket: Lifecycle<TicketState, TicketEvent['type']>;
}

const compiled = new WeakMap<EngineConfig, Lifecycles>();

/**
 * The machines with the configured times provided as their delays
 * (`holdTtl` = `holdTtlMs`, `activeTtl` = `tokenActiveTtlMs`), compiled once
 * per configuration: a hold's deadline is `now + reservation.delayOf('held')`.
 */
export function lifecyclesFor(config: EngineConfig): Lifecycles {
  let lifecycles = compiled.get(config);
  if (!lifecycles) {
    lifecycles = {
      seat: compileLifecycle(
        seatMachine.provide({ delays: { holdTtl: config.holdTtlMs } }),
        seatLifecycle.states,
      ),
      token: compileLifecycle(
        queueTokenMachine.provide({ delays: { activeTtl: config.tokenActiveTtlMs } }),
        queueTokenLifecycle.states,
      ),
      reservation: compileLifecycle(
        reservationMachine.provide({ delays: { holdTtl: config.holdTtlMs } }),
        reservationLifecycle.states,
      ),
      ticket: ticketLifecycle,
    };
    compiled.set(config, lifecycles);
  }
  return lifecycles;
}

/** A lifecycle's delay for `state`; a machine without one there is a programming error. */
export function delayOf<S extends string>(lifecycle: Lifecycle<S, string>, state: S): number {
  const delay = lifecycle.delayOf(state);
  if (delay === undefined)
    throw new TypeError(`machine "${lifecycle.id}" has no configured delay in "${state}"`);
  return delay;
}
