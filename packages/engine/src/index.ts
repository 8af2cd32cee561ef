export { createEngine, type EngineOptions } from './createEngine.js';
export { Engine } from './Engine.js';
export type { UsherEngine } from './UsherEngine.js';
export {
  reservationMachine,
  type ReservationContext,
  type ReservationEvent,
  type ReservationState,
} from './machines/reservationMachine.js';
export {
  EngineError,
  engineErrorCodes,
  isEngineError,
  type EngineErrorCode,
  type EngineErrorDetails,
} from './errors.js';
export { configBounds, defaultConfig, type ConfigBound, type EngineConfig } from './config.js';
export { systemClock, type Clock } from './clock.js';
export {
  seatMachine,
  type SeatContext,
  type SeatEvent,
  type SeatState,
} from './machines/seatMachine.js';
export {
  queueTokenMachine,
  type QueueTokenContext,
  type QueueTokenEvent,
  type QueueTokenState,
} from './machines/queueTokenMachine.js';
export { ticketMachine, type TicketEvent, type TicketState } from './machines/ticketMachine.js';
export { compileLifecycle, TIMEOUT, type Lifecycle } from './machines/compileLifecycle.js';
export {
  seatLifecycle,
  queueTokenLifecycle,
  reservationLifecycle,
  ticketLifecycle,
  lifecyclesFor,
  type Lifecycles,
} from './machines/lifecycles.js';
export { MemoryStore } from './persistence/MemoryStore.js';
export { StoreCorruptedError } from './persistence/StoreCorruptedError.js';
export {
  emptyContents,
  applyChanges,
  type Store,
  type StoreContents,
  type Change,
} from './persistence/Store.js';
export { collectionNames } from './persistence/records.js';
export { invariantViolations } from './invariants.js';
export type * from './persistence/records.js';
export { MAX_ID_LENGTH, userIdProblem } from './validate.js';
export { MAX_SEATS_PER_SCHEDULE } from './rules/catalog.js';
export { isReplay } from './rules/wallets.js';
export type * from './types.js';
