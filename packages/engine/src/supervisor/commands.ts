import type {
  CatalogInput,
  CatalogLoadResult,
  Concert,
  EngineStats,
  IssuedToken,
  Payment,
  QueueToken,
  Reservation,
  Schedule,
  SeatList,
  TickReport,
  Wallet,
} from '../types.js';

/** Every message the supervisor takes, one at a time. */
export type Command =
  | { readonly type: 'loadCatalog'; readonly catalog: CatalogInput }
  | { readonly type: 'issueToken'; readonly userId: string }
  | { readonly type: 'getToken'; readonly token: string }
  | { readonly type: 'tokenOwner'; readonly token: string }
  | { readonly type: 'watch'; readonly token: string }
  | { readonly type: 'unwatch'; readonly token: string }
  | { readonly type: 'listConcerts'; readonly token: string }
  | { readonly type: 'listSchedules'; readonly token: string; readonly concertId: string }
  | { readonly type: 'listSeats'; readonly token: string; readonly scheduleId: string }
  | { readonly type: 'reserve'; readonly token: string; readonly scheduleId: string; readonly seatNo: number }
  | { readonly type: 'getReservation'; readonly token: string; readonly reservationId: string }
  | { readonly type: 'cancelReservation'; readonly token: string; readonly reservationId: string }
  | { readonly type: 'pay'; readonly token: string; readonly reservationId: string; readonly idempotencyKey: string | undefined }
  | { readonly type: 'getBalance'; readonly token: string; readonly userId: string }
  | {
      readonly type: 'charge';
      readonly token: string;
      readonly userId: string;
      readonly amount: number;
      readonly idempotencyKey: string | undefined;
    }
  | { readonly type: 'tick' }
  | { readonly type: 'sweep' }
  | { readonly type: 'expireDue' }
  | { readonly type: 'stats' };

/** What each command answers. */
export interface CommandResults {
  loadCatalog: CatalogLoadResult;
  issueToken: IssuedToken;
  getToken: QueueToken;
  tokenOwner: string | undefined;
  watch: QueueToken;
  unwatch: null;
  listConcerts: readonly Concert[];
  listSchedules: readonly Schedule[];
  listSeats: SeatList;
  reserve: Reservation;
  getReservation: Reservation;
  cancelReservation: Reservation;
  pay: Payment;
  getBalance: Wallet;
  charge: Wallet;
  tick: { readonly report: TickReport; readonly updates: readonly QueueToken[] };
  sweep: null;
  expireDue: null;
  /** The engine adds the tick timing it measures itself. */
  stats: Omit<EngineStats, 'lastTickMs' | 'maxTickMs'>;
}

export type CommandType = Command['type'];
export type CommandOf<K extends CommandType> = Extract<Command, { type: K }>;
