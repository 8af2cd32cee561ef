import type {
  CatalogInput,
  CatalogLoadResult,
  Concert,
  EngineStats,
  IssuedToken,
  Payment,
  QueueToken,
  Reservation,
  Room,
  RoomChange,
  Schedule,
  SeatList,
  TickReport,
  Wallet,
  CheckIn,
  Ticket,
  TicketActor,
  TicketClaims,
  WaitlistEntry,
} from '../types.js';

/**
 * Every message the supervisor takes, one at a time: for each, what it
 * carries and what it answers. {@link Command} and {@link CommandResults}
 * are derived from this one table.
 */
interface CommandTable {
  loadCatalog: [{ catalog: CatalogInput }, CatalogLoadResult];
  issueToken: [
    { userId: string; concertId?: string | undefined; code?: string | undefined },
    IssuedToken,
  ];
  getToken: [{ token: string }, QueueToken];
  tokenOwner: [{ token: string }, string | undefined];
  watch: [{ token: string }, QueueToken];
  unwatch: [{ token: string }, null];
  listConcerts: [{ token: string }, readonly Concert[]];
  listSchedules: [{ token: string; concertId: string }, readonly Schedule[]];
  listSeats: [{ token: string; scheduleId: string }, SeatList];
  /** The body as the caller gave it (any of SPEC §10's three): the rule checks it. */
  reserve: [{ token: string; request: unknown }, Reservation];
  extendReservation: [{ token: string; reservationId: string }, Reservation];
  getReservation: [{ token: string; reservationId: string }, Reservation];
  listReservations: [{ token: string; status: string | undefined }, readonly Reservation[]];
  cancelReservation: [{ token: string; reservationId: string }, Reservation];
  pay: [{ token: string; reservationId: string; idempotencyKey: string | undefined }, Payment];
  getBalance: [{ token: string; userId: string }, Wallet];
  charge: [
    { token: string; userId: string; amount: number; idempotencyKey: string | undefined },
    Wallet,
  ];
  listTickets: [{ userId: string }, readonly Ticket[]];
  /** The claims as the caller gave them: the rule checks them. */
  checkIn: [{ claims: TicketClaims }, CheckIn];
  refundTicket: [{ ticketId: string; by: TicketActor; idempotencyKey: string | undefined }, Ticket];
  transferTicket: [
    { ticketId: string; userId: string; toUserId: string; idempotencyKey: string | undefined },
    Ticket,
  ];
  /** The body as the caller gave it: the rule checks it. */
  joinWaitlist: [{ token: string; scheduleId: string; request: unknown }, WaitlistEntry];
  getWaitlistEntry: [{ token: string; scheduleId: string }, WaitlistEntry];
  leaveWaitlist: [{ token: string; scheduleId: string }, WaitlistEntry];
  watchWaitlist: [{ token: string; scheduleId: string }, WaitlistEntry];
  unwatchWaitlist: [{ scheduleId: string; userId: string }, null];
  spendChallenge: [{ id: string; expiresAt: number }, boolean];
  tick: [{}, { readonly report: TickReport; readonly updates: readonly QueueToken[] }];
  sweep: [{}, null];
  expireDue: [{}, null];
  /** `roomId` absent: the default room. */
  room: [{ roomId?: string | undefined }, Room];
  rooms: [{}, readonly Room[]];
  /** The patch as the caller gave it: the rule checks it. */
  updateRoom: [{ patch: unknown; roomId?: string | undefined }, RoomChange];
  createCodes: [{ roomId: string; count: number }, { readonly codes: readonly string[] }];
  /** The engine adds the tick timing it measures itself. */
  stats: [{}, Omit<EngineStats, 'lastTickMs' | 'maxTickMs'>];
}

export type CommandType = keyof CommandTable;
export type Command = {
  [K in CommandType]: { readonly type: K } & Readonly<CommandTable[K][0]>;
}[CommandType];
export type CommandOf<K extends CommandType> = Extract<Command, { type: K }>;
/** What each command answers. */
export type CommandResults = { [K in CommandType]: CommandTable[K][1] };
