import { Catalog } from '../catalog/Catalog.js';
import type { EngineConfig } from '../config.js';
import { HoldBook } from '../holds/HoldBook.js';
import { newId } from '../ids.js';
import { lifecyclesFor, type Lifecycles } from '../machines/lifecycles.js';
import { IdempotencyKeys } from '../idempotency/IdempotencyKeys.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { StoreContents } from '../persistence/Store.js';
import { newDrawSeed } from '../queue/DrawnOrder.js';
import type { TokenEntry } from '../queue/TokenEntry.js';
import { WaitingRoom } from '../queue/WaitingRoom.js';
import type { Decision, StateChange, TokenState } from '../rules/changes.js';
import {
  checkListConcerts,
  checkListSchedules,
  checkListSeats,
  decideLoadCatalog,
  type KnownCatalog,
} from '../rules/catalog.js';
import {
  checkReserve,
  decideCancel,
  decideGetReservation,
  decideListReservations,
  decideReserve,
  type ReservationView,
  type ReserveView,
} from '../rules/holds.js';
import { decideExtend, type ReserveInput } from '../rules/orders.js';
import { isOffer } from '../rules/holds.js';
import {
  decideIssue,
  decideTick,
  keptUntil,
  requireReadable,
  requireTokenArg,
  requireTokenRoom,
  tokenView,
  type Place,
  type TokenFacts,
} from '../rules/queue.js';
import {
  DEFAULT_ROOM,
  decideUpdateRoom,
  isOpeningDue,
  openRoom,
  requireRoomId,
  roomOfConcert,
  roomView,
  type Stock,
} from '../rules/room.js';
import { decideCreateCodes, hashCode, newPresaleCode, requireCodeArg } from '../rules/codes.js';
import { requireConcert } from '../rules/catalog.js';
import { requireId, requireUserId } from '../validate.js';
import type {
  CodeRecord,
  ReservationRecord,
  TokenRecord as TokenRecordOf,
} from '../persistence/records.js';
import type { Room } from '../types.js';
import { checkSpend, isSpentForgettable } from '../rules/challenges.js';
import {
  checkCharge,
  checkPay,
  decideCharge,
  decideGetBalance,
  decidePay,
} from '../rules/wallets.js';
import type { QueueToken } from '../types.js';
import { Ledger } from '../wallets/Ledger.js';
import { watchUpdate, type WatchedNow } from '../watch/watchUpdate.js';
import { reservationView } from '../views.js';
import type { Command, CommandOf, CommandResults, CommandType } from './commands.js';
import { TicketDesk } from './tickets.js';
import { WaitlistDesk } from './waitlist.js';
import type { WaitlistUpdate } from '../watch/WaitlistWatchers.js';

type Handler<K extends CommandType> = (
  command: CommandOf<K>,
  now: number,
  tx: ChangeSet,
) => CommandResults[K];

/**
 * Owns every entity — catalog and seats, tokens, reservations, wallets,
 * payments, idempotency keys — and applies one command at a time.
 *
 * Each handler reads the view its rule needs from memory, lets the rule decide
 * (`rules/`: the same decisions the PostgreSQL engine makes), and applies the
 * decided changes to memory and to the command's {@link ChangeSet}, which the
 * store appends as one atomic record. A rule refuses before it changes
 * anything, so a refused command changes nothing. Before any
 * command, whatever is past its deadline expires, so no command ever sees a
 * hold or a token past its deadline, whatever the timers did.
 */
export class Supervisor {
  readonly #config: EngineConfig;
  readonly #catalog = new Catalog();
  /** Every token of every room, by token. */
  readonly #tokens = new Map<string, TokenEntry>();
  /** The default room (SPEC §9). */
  readonly #room: WaitingRoom;
  /** Every room by id (SPEC §12): `default` and each concert's own, in the order they were added. */
  readonly #rooms = new Map<string, WaitingRoom>();
  /** Presale codes by their SHA-256. */
  readonly #codes = new Map<string, CodeRecord>();
  readonly #holds: HoldBook;
  readonly #ledger = new Ledger();
  readonly #keys = new IdempotencyKeys();
  /** Spent proof-of-work solutions: when each one's challenge expires. */
  readonly #spent = new Map<string, number>();
  /** Tokens someone watches, with what they were last told. */
  readonly #watched = new Map<string, QueueToken>();
  readonly #lifecycles: Lifecycles;
  /** Tickets and their commands (SPEC §11). */
  readonly #desk: TicketDesk;
  /** The waitlists (SPEC §11): freed seats go there first. */
  readonly #waitlist: WaitlistDesk;
  /** The time of the command being handled (token places before the opening count down to it). */
  #now = 0;

  constructor(config: EngineConfig) {
    this.#config = config;
    this.#lifecycles = lifecyclesFor(config);
    this.#room = new WaitingRoom(config, { tokens: this.#tokens });
    this.#rooms.set(DEFAULT_ROOM, this.#room);
    this.#holds = new HoldBook(this.#catalog, (freed, tx) => this.#waitlist.offer(freed, tx));
    this.#desk = new TicketDesk({
      config,
      lifecycles: this.#lifecycles,
      catalog: this.#catalog,
      holds: this.#holds,
      ledger: this.#ledger,
      keys: this.#keys,
      decided: (decision, tx) => this.#decided(decision, tx),
    });
    this.#waitlist = new WaitlistDesk({
      config,
      lifecycles: this.#lifecycles,
      catalog: this.#catalog,
      holds: this.#holds,
      tokenFacts: (token) => this.#tokenFacts(token),
      requireRoomOfSchedule: (token, scheduleId) =>
        this.#requireRoom(
          token,
          this.#roomOfSchedule(this.#catalog.schedule(scheduleId)?.record.concertId),
          this.#now,
        ),
      ticketsOfUser: (userId, scheduleId) =>
        this.#desk.ticketsOfUser(this.#holds.liveOf(userId), userId, scheduleId, this.#now),
      decided: (decision, tx) => this.#decided(decision, tx),
      now: () => this.#now,
    });
  }

  /** What changed for watched waitlist entries in the command just handled (to push once durable). */
  takeWaitlistUpdates(): WaitlistUpdate[] {
    return this.#waitlist.takeUpdates();
  }

  /** Forgets the waitlist updates of a command that faulted. */
  dropWaitlistUpdates(): void {
    this.#waitlist.dropUpdates();
  }

  /** Expires whatever is past its deadline at `now`. Runs before every command. */
  expireDue(now: number, tx: ChangeSet): void {
    this.#now = now;
    this.#holds.expireDue(now, tx);
    for (const room of this.#rooms.values()) room.expireDue(now, tx);
  }

  /**
   * Applies one command, after {@link expireDue}. Throws {@link EngineError}
   * when it is refused, and then has changed nothing. Anything else it throws
   * is a fault, after which memory may hold half a command.
   */
  handle<K extends CommandType>(
    command: CommandOf<K>,
    now: number,
    tx: ChangeSet,
  ): CommandResults[K] {
    this.#now = now;
    const handler = this.#handlers[command.type] as Handler<K>;
    return handler(command, now, tx);
  }

  /** The earliest deadline of any hold or token (`Infinity` if none). */
  nextDeadline(): number {
    let next = this.#holds.nextDeadline();
    for (const room of this.#rooms.values()) next = Math.min(next, room.nextDeadline());
    return next;
  }

  /** Rebuilds everything from a store's contents; what ended during downtime ends now (in `tx`). */
  restore(contents: StoreContents, now: number, tx: ChangeSet): void {
    this.#now = now;
    for (const concert of contents.concerts.values()) {
      this.#catalog.addConcert(concert);
      if (concert.room === undefined) continue;
      const kept = contents.rooms.get(concert.id);
      const room = this.#addRoom(
        concert.id,
        kept?.room ?? openRoom(this.#config, concert.room, now),
      );
      room.restoreRoom(kept?.room, { value: kept?.admittedTotal ?? 0 });
    }
    for (const schedule of contents.schedules.values()) this.#catalog.addSchedule(schedule);
    // Tickets first: the seats refunded since their payment are no longer their reservations'.
    this.#desk.restore(contents.tickets.values());
    // The waitlists before the holds: a hold that expired while down hands its seats to them.
    this.#waitlist.restore(contents.waitlist.values(), contents.counters.get('waitlistSeq'));
    this.#holds.restore(
      contents.reservations.values(),
      now,
      tx,
      this.#desk.tickets.refundedSeats(),
    );
    this.#desk.issueMissing(contents.reservations.values(), tx);
    this.#room.restoreRoom(contents.room.get('room'), contents.counters.get('admittedTotal'));
    const byRoom = new Map<WaitingRoom, TokenRecordOf[]>();
    for (const record of contents.tokens.values()) {
      const room = this.#rooms.get(record.room ?? DEFAULT_ROOM) ?? this.#room;
      const list = byRoom.get(room) ?? [];
      list.push(record);
      byRoom.set(room, list);
    }
    for (const [room, records] of byRoom) room.restore(records, now, tx);
    for (const [hash, code] of contents.codes) this.#codes.set(hash, code);
    this.#ledger.restore(contents.wallets.values(), contents.payments.values());
    this.#keys.restore(contents.idempotency.values());
    for (const [id, { expiresAt }] of contents.spent) this.#spent.set(id, expiresAt);
  }

  readonly #handlers: { [K in CommandType]: Handler<K> } = {
    loadCatalog: ({ catalog }, _now, tx) =>
      this.#decided(decideLoadCatalog(this.#known, catalog), tx),

    issueToken: ({ userId, concertId, code }, now, tx) => {
      // A concert's room: the user id is refused before the concert is looked for (the rule checks it again).
      if (concertId !== undefined) requireUserId(userId);
      const roomId =
        concertId === undefined
          ? DEFAULT_ROOM
          : roomOfConcert(
              requireConcert(this.#catalog.concert(requireId(concertId, 'concertId')), concertId),
            );
      const room = this.#rooms.get(roomId)!;
      const given = requireCodeArg(code);
      const live = typeof userId === 'string' ? room.live(userId) : undefined;
      if (live) room.poll(live, now);
      const hash = given === undefined ? undefined : hashCode(given);
      const found = hash === undefined ? undefined : this.#codes.get(hash);
      const view = {
        live,
        waiting: room.waitingCount,
        active: room.activeCount,
        room: room.settings,
        roomId,
        code:
          hash === undefined
            ? undefined
            : { hash, usable: found?.room === roomId && found.spentAt === undefined },
      };
      const fresh = { token: newId(), seq: room.nextSeq };
      const { token, created, reason } = this.#decided(
        decideIssue(view, userId, now, this.#config, this.#lifecycles, fresh),
        tx,
        room,
      );
      // A token born expired (sold out) is not stored: it is answered as it is.
      if (token.status === 'expired')
        return {
          token: tokenView(
            token,
            { position: 0, estimatedWaitSeconds: 0 },
            now,
            this.#config,
            reason,
          ),
          created,
        };
      return { token: room.view(this.#tokens.get(token.token)!, now), created };
    },

    getToken: ({ token }, now) => {
      const entry = this.#polled(token, now);
      return this.#roomOf(entry).view(entry, now);
    },

    tokenOwner: ({ token }) =>
      typeof token === 'string' ? this.#tokens.get(token)?.userId : undefined,

    watch: ({ token }, now) => {
      const entry = this.#polled(token, now);
      const view = this.#roomOf(entry).view(entry, now);
      if (entry.status === 'waiting') this.#watched.set(entry.token, view);
      return view;
    },

    unwatch: ({ token }) => {
      this.#watched.delete(token);
      return null;
    },

    listConcerts: ({ token }, now) => {
      checkListConcerts(this.#tokenFacts(token), now, this.#lifecycles);
      return this.#catalog.concerts();
    },

    listSchedules: ({ token, concertId }, now) => {
      const concert = this.#find(concertId, (id) => this.#catalog.concert(id));
      this.#requireRoom(token, concert && roomOfConcert(concert), now);
      checkListSchedules(
        { arg: token, token: this.#token(token), placeOf: this.#placeOf, concert },
        concertId,
        now,
        this.#lifecycles,
      );
      return this.#catalog.availableSchedules(concertId);
    },

    listSeats: ({ token, scheduleId }, now) => {
      const schedule = this.#find(scheduleId, (id) => this.#catalog.schedule(id));
      this.#requireRoom(token, this.#roomOfSchedule(schedule?.record.concertId), now);
      checkListSeats(
        { arg: token, token: this.#token(token), placeOf: this.#placeOf, schedule },
        scheduleId,
        now,
        this.#lifecycles,
      );
      return {
        scheduleId,
        seats: schedule!.seats.availableSeats(schedule!.priceOf, schedule!.categoryOf),
      };
    },

    reserve: ({ token: arg, request }, now, tx) => {
      const command = checkReserve((request ?? {}) as ReserveInput, this.#config);
      const token = this.#token(arg);
      const schedule = this.#catalog.schedule(command.scheduleId);
      this.#requireRoom(arg, this.#roomOfSchedule(schedule?.record.concertId), now);
      const view: ReserveView = {
        arg,
        token,
        placeOf: this.#placeOf,
        schedule,
        occupantOf: (seatNo) =>
          seatNo <= (schedule?.totalSeats ?? 0) ? schedule?.seats.occupant(seatNo) : undefined,
        picker: command.kind === 'best' ? schedule?.picker : undefined,
        heldByUser: token ? this.#holds.heldBy(token.userId) : 0,
        ticketsOfUser: token
          ? this.#desk.ticketsOfUser(
              this.#holds.liveOf(token.userId),
              token.userId,
              command.scheduleId,
              now,
            )
          : 0,
      };
      return reservationView(
        this.#decided(
          decideReserve(view, command, now, this.#config, this.#lifecycles, newId()),
          tx,
        ),
      );
    },

    extendReservation: ({ token, reservationId }, now, tx) =>
      reservationView(
        this.#decided(
          decideExtend(
            this.#reservationFacts(token, reservationId),
            reservationId,
            now,
            this.#config,
            this.#lifecycles,
          ),
          tx,
        ),
      ),

    getReservation: ({ token, reservationId }, now) =>
      reservationView(
        decideGetReservation(
          this.#reservationFacts(token, reservationId),
          reservationId,
          now,
          this.#lifecycles,
        ),
      ),

    listReservations: ({ token, status }, now) => {
      const entry = this.#token(token);
      const view = {
        arg: token,
        token: entry,
        placeOf: this.#placeOf,
        reservations: entry ? this.#holds.liveOf(entry.userId) : [],
      };
      return decideListReservations(view, status, now, this.#lifecycles).map(reservationView);
    },

    cancelReservation: ({ token, reservationId }, now, tx) =>
      reservationView(
        this.#decided(
          decideCancel(
            this.#reservationFacts(token, reservationId),
            reservationId,
            now,
            this.#lifecycles,
          ),
          tx,
        ),
      ),

    pay: (raw, now, tx) => {
      const command = checkPay(raw);
      const token = this.#token(raw.token);
      this.#requireRoomOfReservation(token, this.#holds.find(command.reservationId), now);
      const userId = token?.userId;
      const view = {
        arg: raw.token,
        token,
        placeOf: this.#placeOf,
        reservation: this.#holds.find(command.reservationId),
        stored: userId === undefined ? undefined : this.#keys.find(userId, command.idempotencyKey),
        balance: userId === undefined ? 0 : this.#ledger.balanceOf(userId),
        heldByUser: userId === undefined ? 0 : this.#holds.heldBy(userId),
        concertId: this.#catalog.schedule(this.#holds.find(command.reservationId)?.scheduleId ?? '')
          ?.record.concertId,
      };
      return this.#decided(
        decidePay(view, command, now, this.#config, this.#lifecycles, newId()),
        tx,
      );
    },

    getBalance: ({ token, userId }, now) => {
      const entry = this.#token(token);
      const view = {
        arg: token,
        token: entry,
        placeOf: this.#placeOf,
        balance: entry ? this.#ledger.balanceOf(entry.userId) : 0,
      };
      return decideGetBalance(view, userId, now, this.#lifecycles);
    },

    charge: (raw, now, tx) => {
      const command = checkCharge(raw, this.#config);
      const token = this.#token(raw.token);
      const userId = token?.userId;
      const view = {
        arg: raw.token,
        token,
        placeOf: this.#placeOf,
        stored: userId === undefined ? undefined : this.#keys.find(userId, command.idempotencyKey),
        balance: this.#ledger.balanceOf(command.userId),
      };
      return this.#decided(decideCharge(view, command, now, this.#config, this.#lifecycles), tx);
    },

    tick: (_command, now, tx) => {
      // Every room, each with its own view: O(rooms + admitted).
      const report = { admitted: 0, waiting: 0, active: 0 };
      const rooms: Record<string, { admitted: number; waiting: number; active: number }> = {};
      for (const [id, waitingRoom] of this.#rooms) {
        const room = waitingRoom.settings;
        const view = {
          room,
          waiting: waitingRoom.waitingCount,
          priorityWaiting: waitingRoom.priorityWaiting,
          active: waitingRoom.activeCount,
          stock: this.#stockOf(id),
          ...(isOpeningDue(room, now) ? { opening: waitingRoom.openingRange(room.opensAt!) } : {}),
        };
        const outcome = this.#decided(
          decideTick(view, now, this.#lifecycles, newDrawSeed),
          tx,
          waitingRoom,
        );
        if (outcome.observed) waitingRoom.rate.observe(outcome.admitted);
        const figures = {
          admitted: outcome.admitted,
          waiting: waitingRoom.waitingCount,
          active: waitingRoom.activeCount,
        };
        rooms[id] = figures;
        report.admitted += figures.admitted;
        report.waiting += figures.waiting;
        report.active += figures.active;
      }
      return {
        report: this.#rooms.size > 1 ? { ...report, rooms } : report,
        updates: this.#watchUpdates(now),
      };
    },

    room: ({ roomId }) => this.#roomNow(this.#requireRoomId(roomId), roomId !== undefined),

    rooms: () => [...this.#rooms.values()].map((room) => this.#roomNow(room, true)),

    createCodes: ({ roomId, count }, _now, tx) => {
      const room = this.#requireRoomId(roomId);
      return this.#decided(
        decideCreateCodes(room.id ?? DEFAULT_ROOM, count, newPresaleCode),
        tx,
        room,
      );
    },

    listTickets: (command) => this.#desk.listTickets(command),
    checkIn: (command, now, tx) => this.#desk.checkIn(command, now, tx),
    refundTicket: (command, now, tx) => this.#desk.refundTicket(command, now, tx),
    transferTicket: (command, now, tx) => this.#desk.transferTicket(command, now, tx),

    joinWaitlist: (command, _now, tx) => this.#waitlist.join(command, tx),
    getWaitlistEntry: (command) => this.#waitlist.get(command),
    leaveWaitlist: (command, _now, tx) => this.#waitlist.leave(command, tx),
    watchWaitlist: (command) => this.#waitlist.watch(command),
    unwatchWaitlist: (command) => this.#waitlist.unwatch(command),

    spendChallenge: (raw, _now, tx) => {
      const { id, expiresAt } = checkSpend(raw.id, raw.expiresAt);
      if (this.#spent.has(id)) return false;
      this.#spent.set(id, expiresAt);
      tx.put('spent', id, { expiresAt });
      return true;
    },

    updateRoom: ({ patch, roomId }, now, tx) => {
      const room = this.#requireRoomId(roomId);
      const named = roomId !== undefined;
      const before = this.#roomNow(room, named);
      this.#decided(decideUpdateRoom(room.settings, patch, now), tx, room);
      return { before, room: this.#roomNow(room, named) };
    },

    sweep: (_command, now, tx) => {
      this.#holds.sweep(now, tx);
      this.#holds.purgeEnded(now - this.#config.reservationRetentionMs, tx);
      this.#keys.purge(now - this.#config.idempotencyTtlMs, tx);
      for (const room of this.#rooms.values()) room.purgeKept(now, tx);
      for (const [id, expiresAt] of this.#spent) {
        if (!isSpentForgettable(expiresAt, now)) continue;
        this.#spent.delete(id);
        tx.delete('spent', id);
      }
      return null;
    },

    expireDue: () => null,

    stats: () => ({
      concerts: this.#catalog.concertCount,
      schedules: this.#catalog.scheduleCount,
      waitingTokens: this.#sum((room) => room.waitingCount),
      activeTokens: this.#sum((room) => room.activeCount),
      heldSeats: this.#holds.heldCount,
      paidSeats: this.#holds.paidCount,
      reservations: this.#holds.size,
      payments: this.#ledger.paymentCount,
      wallets: this.#ledger.walletCount,
      idempotencyKeys: this.#keys.size,
      admissionRatePerSecond: this.#room.rate.perSecond,
      watchedTokens: this.#watched.size,
    }),
  };

  /** Applies a decision's changes (room-wide ones to `room`) to memory and to the command's change set; answers the decision's answer. */
  #decided<A>({ changes, answer }: Decision<A>, tx: ChangeSet, room = this.#room): A {
    for (const change of changes) this.#apply(change, tx, room);
    return answer;
  }

  #apply(change: StateChange, tx: ChangeSet, room: WaitingRoom): void {
    switch (change.type) {
      case 'tokenIssued':
        return void room.add(change.token, tx);
      case 'tokensAdmitted':
        return room.admitFirst(change.count, change.expiresAt, tx);
      case 'tokensSoldOut':
        return room.soldOut(keptUntil(this.#now, this.#config), tx);
      case 'roomChanged':
        return room.setRoom(change.room, tx);
      case 'codesCreated':
        for (const hash of change.hashes) {
          const code = { room: change.room };
          this.#codes.set(hash, code);
          tx.put('codes', hash, code);
        }
        return;
      case 'codeSpent': {
        const code = { room: change.room, spentAt: change.at };
        this.#codes.set(change.hash, code);
        return tx.put('codes', change.hash, code);
      }
      case 'tokenExtended':
        return this.#roomOfToken(change.token).extend(change.token, change.expiresAt, tx);
      case 'tokenCompleted':
        return this.#roomOfToken(change.token).complete(change.token, change.keepUntil, tx);
      case 'reservationHeld':
        return this.#holds.hold(change.reservation, tx);
      case 'reservationExtended':
        return this.#holds.extend(change.id, change.expiresAt, change.extensions, tx);
      case 'reservationEnded':
        return this.#holds.end(change.id, change.status, change.at, tx);
      case 'walletCredited':
        return void this.#ledger.credit(change.userId, change.amount, tx);
      case 'paymentMade':
        return this.#ledger.pay(change.payment, tx);
      case 'keyRemembered':
        return this.#keys.remember(change.record, tx);
      case 'ticketsIssued':
      case 'ticketChanged':
      case 'walletRefunded':
        return this.#desk.apply(change, tx);
      case 'seatFreed':
        // A refunded seat goes to the waitlist first (SPEC §11), in the same change set.
        this.#desk.apply(change, tx);
        return this.#waitlist.offer(
          { scheduleId: change.scheduleId, seatNos: [change.seatNo] },
          tx,
        );
      case 'waitlistJoined':
      case 'waitlistLeft':
      case 'waitlistOffered':
        return this.#waitlist.apply(change, tx);
      case 'catalogAdded':
        this.#catalog.add(change.concerts, change.schedules, tx);
        // A concert's own room starts with it (SPEC §12).
        for (const concert of change.concerts) {
          if (concert.room === undefined) continue;
          const settings = openRoom(this.#config, concert.room, this.#now);
          this.#addRoom(concert.id, settings).setRoom(settings, tx);
        }
        return;
    }
  }

  #addRoom(id: string, settings: WaitingRoom['settings']): WaitingRoom {
    const room = new WaitingRoom(this.#config, { id, tokens: this.#tokens, settings });
    this.#rooms.set(id, room);
    return room;
  }

  /** A room by the id an operator gave (`undefined`: the default room); `ROOM_NOT_FOUND` for none. */
  #requireRoomId(roomId: unknown): WaitingRoom {
    if (roomId === undefined) return this.#room;
    return requireRoomId(roomId, (id) => this.#rooms.get(id));
  }

  #roomOf(entry: TokenEntry): WaitingRoom {
    return this.#rooms.get(entry.room ?? DEFAULT_ROOM) ?? this.#room;
  }

  #roomOfToken(token: string): WaitingRoom {
    return this.#roomOf(this.#tokens.get(token)!);
  }

  #sum(figure: (room: WaitingRoom) => number): number {
    let total = 0;
    for (const room of this.#rooms.values()) total += figure(room);
    return total;
  }

  /** The room of a concert's routes (`undefined` for an unknown concert). */
  #roomOfSchedule(concertId: string | undefined): string | undefined {
    const concert = concertId === undefined ? undefined : this.#catalog.concert(concertId);
    return concert && roomOfConcert(concert);
  }

  /** `TOKEN_WRONG_ROOM` for a live token of another room than the route's (see `requireTokenRoom`). */
  #requireRoom(token: unknown, room: string | undefined, now: number): void {
    requireTokenRoom(this.#token(token), room, now, this.#lifecycles);
  }

  /** A reservation's routes belong to its concert's room; checked for the token's own reservation only (another's is not found). */
  #requireRoomOfReservation(
    token: TokenEntry | undefined,
    reservation: ReservationRecord | undefined,
    now: number,
  ): void {
    // A hold offered from the waitlist takes any known token of its owner, of any room (SPEC §11).
    if (!token || !reservation || reservation.userId !== token.userId || isOffer(reservation))
      return;
    const schedule = this.#catalog.schedule(reservation.scheduleId);
    requireTokenRoom(
      token,
      this.#roomOfSchedule(schedule?.record.concertId),
      now,
      this.#lifecycles,
    );
  }

  /**
   * What a room's sold-out check reads: the default room, every seat of the
   * concerts without a room of their own; a concert's room, that concert's
   * (O(its schedules)).
   */
  #stockOf(roomId: string): Stock {
    if (roomId === DEFAULT_ROOM && this.#rooms.size === 1)
      return {
        totalSeats: this.#catalog.totalSeats,
        heldSeats: this.#holds.heldCount,
        paidSeats: this.#holds.paidCount,
      };
    const stock = { totalSeats: 0, heldSeats: 0, paidSeats: 0 };
    const count = (concertId: string) => {
      for (const schedule of this.#catalog.schedulesOf(concertId)) {
        const seats = schedule.seats;
        stock.totalSeats += seats.totalSeats;
        stock.heldSeats += seats.heldCount;
        stock.paidSeats += seats.totalSeats - seats.availableCount - seats.heldCount;
      }
    };
    if (roomId !== DEFAULT_ROOM) count(roomId);
    else
      for (const concert of this.#catalog.concerts())
        if (concert.room === undefined) count(concert.id);
    return stock;
  }

  /**
   * What changed for watched tokens since they were last told: status,
   * position or wait (before the opening, only status and position: the
   * countdown to `opensAt` is the watcher's to show). A watched waiting token
   * counts as polled (its watcher is there). A token that is no longer
   * waiting gets a last update (an ended one with `reason: "sold_out"` when
   * the room is sold out) and is dropped.
   */
  #watchUpdates(now: number): QueueToken[] {
    const updates: QueueToken[] = [];
    for (const [token, last] of this.#watched) {
      const entry = this.#tokens.get(token);
      const room = this.#rooms.get(last.room) ?? this.#room;
      let current: WatchedNow;
      if (entry?.status === 'waiting') {
        room.poll(entry, now);
        const place = room.placeOf(entry, now);
        current = { place, view: () => tokenView(entry, place, entry.lastSeenAt, this.#config) };
      } else if (entry && entry.status !== 'expired') {
        current = { view: room.view(entry, now) };
      }
      const view = watchUpdate(last, current, room.settings.soldOut);
      if (view === undefined) continue;
      updates.push(view);
      if (view.status === 'waiting') this.#watched.set(token, view);
      else this.#watched.delete(token);
    }
    return updates;
  }

  /** The room with its counts now; with its id when asked by it (SPEC §12), as `/admin/room` was before rooms. */
  #roomNow(room: WaitingRoom, named: boolean): Room {
    return {
      ...(named ? { id: room.id ?? DEFAULT_ROOM } : {}),
      ...roomView(room.settings, {
        waiting: room.waitingCount,
        active: room.activeCount,
        admittedTotal: room.admittedTotal,
      }),
    };
  }

  /** The command's token as the rules see it (after the argument check), with how to rank it. */
  #tokenFacts(token: unknown): TokenFacts {
    return { arg: token, token: this.#token(token), placeOf: this.#placeOf };
  }

  /** The token named by a command's argument, if the engine knows it. */
  #token(token: unknown): TokenEntry | undefined {
    return typeof token === 'string' ? this.#tokens.get(token) : undefined;
  }

  readonly #placeOf = (token: TokenState): Place =>
    this.#roomOf(token as TokenEntry).placeOf(token as TokenEntry, this.#now);

  #reservationFacts(token: unknown, reservationId: unknown): ReservationView {
    this.#requireRoomOfReservation(
      this.#token(token),
      this.#find(reservationId, (id) => this.#holds.find(id)),
      this.#now,
    );
    return {
      arg: token,
      token: this.#token(token),
      placeOf: this.#placeOf,
      reservation: this.#find(reservationId, (id) => this.#holds.find(id)),
    };
  }

  /** Looks up an id argument; a malformed one finds nothing (the rules refuse it). */
  #find<T>(id: unknown, lookup: (id: string) => T | undefined): T | undefined {
    return typeof id === 'string' ? lookup(id) : undefined;
  }

  /** A live (waiting or active) token, counted as polled; or one that ended for a reason, which says why. */
  #polled(token: unknown, now: number): TokenEntry {
    const entry = requireReadable(
      this.#tokens.get(requireTokenArg(token)),
      now,
      this.#lifecycles,
    ) as TokenEntry;
    this.#roomOf(entry).poll(entry, now);
    return entry;
  }

  readonly #known: KnownCatalog = {
    concert: (id) => this.#catalog.concert(id),
    schedule: (id) => this.#catalog.schedule(id)?.record,
  };
}
