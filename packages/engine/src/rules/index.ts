/**
 * `@usher/engine/rules`: the rules of SPEC §4, §10 and §11 (tickets and the waitlist) as pure decisions, shared by
 * every engine. Each takes the state it needs, the command and `now`, and
 * returns the changes to apply and the answer, or throws an `EngineError`.
 * No I/O, no clock, no storage: the embedded engine reads its views from
 * memory, the PostgreSQL engine from a few indexed rows.
 */
export type { Decision, StateChange, TokenState } from './changes.js';
export { unchanged } from './changes.js';
export {
  activeUser,
  knownUser,
  decideIssue,
  decideTick,
  endedView,
  placeBeforeOpening,
  isAbandoned,
  requireActive,
  requireKnown,
  requireLive,
  requireReadable,
  keptUntil,
  requireTokenArg,
  requireTokenRoom,
  statusAt,
  tokenInvalid,
  tokenView,
  type IssueView,
  type Issued,
  type Place,
  type TickOutcome,
  type TickView,
  type TokenFacts,
  type WaitEstimate,
} from './queue.js';
export {
  checkRoomInput,
  concertView,
  DEFAULT_ROOM,
  openRoom,
  requireRoomId,
  roomOfConcert,
  roomOfToken,
  type RoomInput,
  decideUpdateRoom,
  initialRoom,
  isAdmitting,
  isOpeningDue,
  isSoldOut,
  roomSettings,
  roomView,
  type OpeningRange,
  type RoomState,
  type Stock,
} from './room.js';
export {
  codeInvalid,
  decideCreateCodes,
  hashCode,
  MAX_CODE_LENGTH,
  MAX_CODES_PER_REQUEST,
  newPresaleCode,
  requireCodeArg,
  requireCodeCount,
  type CodeFacts,
} from './codes.js';
export { DrawnOrder, drawnOrder, newDrawSeed, type Draw } from '../queue/DrawnOrder.js';
export {
  actingUser,
  alreadyPaid,
  checkReserve,
  isOffer,
  decideCancel,
  checkListStatus,
  decideGetReservation,
  decideListReservations,
  decideExpireHold,
  decideReserve,
  holdExpired,
  requireOwn,
  requireSchedule,
  reservationStatusAt,
  LISTED_STATUSES,
  type ListedStatus,
  type ListReservationsView,
  type Occupant,
  type ReserveCommand,
  type ReserveView,
  type ReservationView,
  type ScheduleFacts,
} from './holds.js';
export {
  amountOf,
  checkLimits,
  decideExtend,
  pickBest,
  pricedSeats,
  seatsOf,
  ticketsOf,
  type ReserveInput,
} from './orders.js';
export {
  alreadyCheckedIn,
  checkClaims,
  checkRefund,
  checkTransfer,
  decideCheckIn,
  decideListTickets,
  decideRefund,
  decideTransfer,
  freeSeat,
  isLiveTicket,
  refundFingerprint,
  requireTicketId,
  ticketIdOf,
  ticketInvalid,
  ticketNotFound,
  ticketsForPayment,
  ticketVoid,
  transferFingerprint,
  type RefundCommand,
  type RefundView,
  type TransferCommand,
  type TransferView,
} from './tickets.js';
export {
  checkJoinWaitlist,
  decideGetWaitlistEntry,
  decideJoinWaitlist,
  decideLeaveWaitlist,
  decideOffers,
  seatsFreedBy,
  waitlistNotFound,
  waitlistView,
  type FreedSeats,
  type JoinWaitlistCommand,
  type JoinWaitlistView,
  type PlacedEntry,
  type WaitlistEntryView,
} from './waitlist.js';
export { FreeRuns } from '../seats/FreeRuns.js';
export { SeatPicker, tierIndex, type PickerLayout } from '../seats/SeatPicker.js';
export {
  checkCharge,
  checkKey,
  checkPay,
  chargeFingerprint,
  decideCharge,
  decideGetBalance,
  decidePay,
  isReplay,
  payFingerprint,
  replayOf,
  requireSelf,
  type ChargeCommand,
  type ChargeView,
  type PayCommand,
  type PayView,
} from './wallets.js';
export {
  checkListConcerts,
  checkListSchedules,
  checkListSeats,
  decideLoadCatalog,
  MAX_SEATS_PER_SCHEDULE,
  MAX_CATEGORY_LENGTH,
  categoryOf,
  priceOf,
  requireCategory,
  requireConcert,
  type KnownCatalog,
} from './catalog.js';
export { lifecyclesFor, delayOf, type Lifecycles } from '../machines/lifecycles.js';
export { AdmissionRate } from '../queue/AdmissionRate.js';
export { TokenWatchers } from '../watch/TokenWatchers.js';
export { WaitlistWatchers, waitlistKey, type WaitlistUpdate } from '../watch/WaitlistWatchers.js';
export { Observers } from '../watch/Observers.js';
export { watchUpdate, type WatchedNow } from '../watch/watchUpdate.js';
export { WaitingLine } from '../queue/WaitingLine.js';
export { reservationView, paymentView, ticketView } from '../views.js';
export { resolveConfig } from '../config.js';
export { checkSpend, isSpentForgettable, type SpendCommand } from './challenges.js';
export {
  requireId,
  requireInteger,
  requireUserId,
  userIdProblem,
  MAX_ID_LENGTH,
} from '../validate.js';
