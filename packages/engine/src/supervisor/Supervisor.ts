import { Catalog } from '../catalog/Catalog.js';
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { HoldBook } from '../holds/HoldBook.js';
import { IdempotencyKeys } from '../idempotency/IdempotencyKeys.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { ReservationRecord } from '../persistence/records.js';
import type { StoreContents } from '../persistence/Store.js';
import { WaitingRoom, type TokenEntry } from '../queue/WaitingRoom.js';
import type { Payment, QueueToken, Wallet } from '../types.js';
import { Ledger } from '../wallets/Ledger.js';
import { MAX_ID_LENGTH, requireId, requireInteger } from '../validate.js';
import { paymentView, reservationView } from '../views.js';
import type { Command, CommandOf, CommandResults, CommandType } from './commands.js';

type Handler<K extends CommandType> = (command: CommandOf<K>, now: number, tx: ChangeSet) => CommandResults[K];

/**
 * Owns every entity — catalog and seats, tokens, reservations, wallets,
 * payments, idempotency keys — and applies one command at a time.
 *
 * Each handler checks everything it can refuse before it changes anything, so
 * a refused command changes nothing. What a command changes is recorded in its
 * {@link ChangeSet}, which the store appends as one atomic record. Before any
 * command, whatever is past its deadline expires, so no command ever sees a
 * hold or a token past its deadline, whatever the timers did.
 */
export class Supervisor {
  readonly #config: EngineConfig;
  readonly #catalog = new Catalog();
  readonly #room: WaitingRoom;
  readonly #holds: HoldBook;
  readonly #ledger = new Ledger();
  readonly #keys = new IdempotencyKeys();
  /** Tokens someone watches, with what they were last told. */
  readonly #watched = new Map<string, QueueToken>();

  constructor(config: EngineConfig) {
    this.#config = config;
    this.#room = new WaitingRoom(config);
    this.#holds = new HoldBook(this.#catalog);
  }

  /** Expires whatever is past its deadline at `now`. Runs before every command. */
  expireDue(now: number, tx: ChangeSet): void {
    this.#holds.expireDue(now, tx);
    this.#room.expireDue(now, tx);
  }

  /**
   * Applies one command, after {@link expireDue}. Throws {@link EngineError}
   * when it is refused, and then has changed nothing. Anything else it throws
   * is a fault, after which memory may hold half a command.
   */
  handle<K extends CommandType>(command: CommandOf<K>, now: number, tx: ChangeSet): CommandResults[K] {
    const handler = this.#handlers[command.type] as Handler<K>;
    return handler(command, now, tx);
  }

  /** The earliest deadline of any hold or token (`Infinity` if none). */
  nextDeadline(): number {
    return Math.min(this.#holds.nextDeadline(), this.#room.nextDeadline());
  }

  /** Rebuilds everything from a store's contents; what ended during downtime ends now (in `tx`). */
  restore(contents: StoreContents, now: number, tx: ChangeSet): void {
    for (const concert of contents.concerts.values()) this.#catalog.addConcert(concert);
    for (const schedule of contents.schedules.values()) this.#catalog.addSchedule(schedule);
    this.#holds.restore(contents.reservations.values(), now, tx);
    this.#room.restore(contents.tokens.values(), now, tx);
    this.#ledger.restore(contents.wallets.values(), contents.payments.values());
    this.#keys.restore(contents.idempotency.values());
  }

  readonly #handlers: { [K in CommandType]: Handler<K> } = {
    loadCatalog: ({ catalog }, _now, tx) => this.#catalog.load(catalog, tx),

    issueToken: ({ userId }, now, tx) => {
      requireId(userId, 'userId');
      const { entry, created } = this.#room.issue(userId, now, tx);
      return { token: this.#room.view(entry), created };
    },

    getToken: ({ token }, now) => this.#room.view(this.#polled(token, now)),

    tokenOwner: ({ token }) => (typeof token === 'string' ? this.#room.find(token)?.userId : undefined),

    watch: ({ token }, now) => {
      const entry = this.#polled(token, now);
      const view = this.#room.view(entry);
      if (entry.status === 'waiting') this.#watched.set(entry.token, view);
      return view;
    },

    unwatch: ({ token }) => {
      this.#watched.delete(token);
      return null;
    },

    listConcerts: ({ token }) => {
      this.#activeUser(token);
      return this.#catalog.concerts();
    },

    listSchedules: ({ token, concertId }) => {
      requireId(concertId, 'concertId');
      this.#activeUser(token);
      if (!this.#catalog.concert(concertId)) throw new EngineError('CONCERT_NOT_FOUND', `no concert "${concertId}"`);
      return this.#catalog.availableSchedules(concertId);
    },

    listSeats: ({ token, scheduleId }) => {
      requireId(scheduleId, 'scheduleId');
      this.#activeUser(token);
      const schedule = this.#schedule(scheduleId);
      return { scheduleId, seats: schedule.seats.availableSeats(schedule.priceOf) };
    },

    reserve: ({ token, scheduleId, seatNo }, now, tx) => {
      requireId(scheduleId, 'scheduleId');
      requireInteger(seatNo, 'seatNo', 1);
      const user = this.#activeUser(token);
      const schedule = this.#schedule(scheduleId);
      if (seatNo > schedule.record.totalSeats) {
        throw new EngineError('SEAT_NOT_FOUND', `schedule "${scheduleId}" has seats 1 to ${schedule.record.totalSeats}`);
      }
      const occupant = schedule.seats.occupant(seatNo);
      if (occupant) {
        const yours = occupant.userId === user.userId && occupant.status === 'held' ? ` (you hold it: ${occupant.id})` : '';
        throw new EngineError('SEAT_UNAVAILABLE', `seat ${seatNo} is ${occupant.status}${yours}`);
      }
      if (this.#holds.heldBy(user.userId) >= this.#config.maxHoldsPerUser) {
        throw new EngineError('HOLD_LIMIT_REACHED', `you already hold ${this.#config.maxHoldsPerUser} seats`);
      }
      const reservation = this.#holds.hold(user.userId, schedule, seatNo, now, this.#config.holdTtlMs, tx);
      // A user is never locked out of paying for a seat they hold.
      this.#room.extend(user, reservation.expiresAt, tx);
      return reservationView(reservation);
    },

    getReservation: ({ token, reservationId }) => {
      requireId(reservationId, 'reservationId');
      const user = this.#activeUser(token);
      return reservationView(this.#reservationOf(user, reservationId));
    },

    cancelReservation: ({ token, reservationId }, now, tx) => {
      requireId(reservationId, 'reservationId');
      const user = this.#activeUser(token);
      const reservation = this.#reservationOf(user, reservationId);
      if (reservation.status === 'paid') throw alreadyPaid();
      if (reservation.status === 'expired') throw holdExpired('expired');
      if (reservation.status === 'held') this.#holds.cancel(reservation, now, tx);
      return reservationView(reservation);
    },

    pay: ({ token, reservationId, idempotencyKey }, now, tx) => {
      requireId(reservationId, 'reservationId');
      const fingerprint = idempotencyKey === undefined ? '' : JSON.stringify(['pay', reservationId]);
      const replay = this.#replay(token, idempotencyKey, fingerprint);
      if (replay) return replay.result as Payment;
      const user = this.#activeUser(token);
      const reservation = this.#reservationOf(user, reservationId);
      if (reservation.status === 'paid') throw alreadyPaid();
      if (reservation.status !== 'held') throw holdExpired(reservation.status);
      const balance = this.#ledger.balanceOf(user.userId);
      if (balance < reservation.price) {
        throw new EngineError('INSUFFICIENT_BALANCE', `the price is ${reservation.price} and the balance ${balance}`);
      }
      this.#holds.markPaid(reservation, tx);
      const payment = paymentView(this.#ledger.pay(user.userId, reservation.id, reservation.price, now, tx));
      if (idempotencyKey !== undefined) this.#keys.remember(user.userId, idempotencyKey, fingerprint, payment, now, tx);
      // The slot goes to the next user, unless this user still holds seats to pay for.
      if (this.#holds.heldBy(user.userId) === 0) this.#room.complete(user, now, tx);
      return payment;
    },

    getBalance: ({ token, userId }) => {
      requireId(userId, 'userId');
      const user = this.#activeUser(token);
      this.#requireSelf(user, userId);
      return { userId, balance: this.#ledger.balanceOf(userId) };
    },

    charge: ({ token, userId, amount, idempotencyKey }, now, tx) => {
      requireId(userId, 'userId');
      requireInteger(amount, 'amount', 1, this.#config.maxChargeAmount);
      const fingerprint = idempotencyKey === undefined ? '' : JSON.stringify(['charge', userId, amount]);
      this.#requireSelf(this.#identify(token), userId);
      const replay = this.#replay(token, idempotencyKey, fingerprint);
      if (replay) return replay.result as Wallet;
      const user = this.#activeUser(token);
      const balance = this.#ledger.balanceOf(userId);
      if (balance + amount > this.#config.maxBalance) {
        throw new EngineError('BALANCE_LIMIT', `a balance may not pass ${this.#config.maxBalance}`);
      }
      const wallet: Wallet = { userId, balance: this.#ledger.credit(user.userId, amount, tx).balance };
      if (idempotencyKey !== undefined) this.#keys.remember(userId, idempotencyKey, fingerprint, wallet, now, tx);
      return wallet;
    },

    tick: (_command, now, tx) => {
      const admitted = this.#room.admit(now, tx);
      const report = { admitted, waiting: this.#room.waitingCount, active: this.#room.activeCount };
      return { report, updates: this.#watchUpdates(now) };
    },

    sweep: (_command, now, tx) => {
      this.#holds.sweep(now, tx);
      this.#holds.purgeEnded(now - this.#config.reservationRetentionMs, tx);
      this.#keys.purge(now - this.#config.idempotencyTtlMs, tx);
      this.#room.purgeKept(now, tx);
      return null;
    },

    expireDue: () => null,

    stats: () => ({
      concerts: this.#catalog.concertCount,
      schedules: this.#catalog.scheduleCount,
      waitingTokens: this.#room.waitingCount,
      activeTokens: this.#room.activeCount,
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

  /**
   * What changed for watched tokens since they were last told: status,
   * position or wait. A watched waiting token counts as polled (its watcher is
   * there). A token that is no longer waiting gets a last update and is dropped.
   */
  #watchUpdates(now: number): QueueToken[] {
    const updates: QueueToken[] = [];
    for (const [token, last] of this.#watched) {
      const entry = this.#room.find(token);
      const position = entry ? this.#room.position(entry) : 0;
      if (entry?.status === 'waiting') {
        this.#room.poll(entry, now);
        if (position === last.position && this.#room.rate.secondsFor(position) === last.estimatedWaitSeconds) continue;
      }
      const view =
        entry && entry.status !== 'expired' ? this.#room.view(entry, position) : { ...last, status: 'expired' as const, position: 0, estimatedWaitSeconds: 0 };
      updates.push(view);
      if (view.status === 'waiting') this.#watched.set(token, view);
      else this.#watched.delete(token);
    }
    return updates;
  }

  /** Any token the engine still knows, whatever its state. */
  #identify(token: unknown): TokenEntry {
    if (typeof token !== 'string' || token.length === 0) throw new EngineError('TOKEN_MISSING', 'a queue token is required');
    const entry = token.length <= MAX_ID_LENGTH ? this.#room.find(token) : undefined;
    if (!entry) throw tokenInvalid();
    return entry;
  }

  /** A live (waiting or active) token, counted as polled. */
  #polled(token: unknown, now: number): TokenEntry {
    const entry = this.#identify(token);
    if (entry.status === 'expired') throw tokenInvalid();
    this.#room.poll(entry, now);
    return entry;
  }

  #activeUser(token: unknown): TokenEntry {
    const entry = this.#identify(token);
    if (entry.status === 'expired') throw tokenInvalid();
    if (entry.status === 'waiting') {
      const position = this.#room.position(entry);
      throw new EngineError('TOKEN_NOT_ACTIVE', `you are number ${position} in line`, {
        details: { position, estimatedWaitSeconds: this.#room.rate.secondsFor(position) },
      });
    }
    return entry;
  }

  /** A stored answer for this key, checked before the token must be active: a retry after the payment completed the token still gets its answer. */
  #replay(token: string, key: string | undefined, fingerprint: string): { result: unknown } | undefined {
    if (key === undefined) return undefined;
    requireId(key, 'Idempotency-Key');
    return this.#keys.replay(this.#identify(token).userId, key, fingerprint);
  }

  #requireSelf(user: TokenEntry, userId: string): void {
    if (user.userId !== userId) throw new EngineError('FORBIDDEN', 'a token may only use its own wallet');
  }

  #schedule(scheduleId: string) {
    const schedule = this.#catalog.schedule(scheduleId);
    if (!schedule) throw new EngineError('SCHEDULE_NOT_FOUND', `no schedule "${scheduleId}"`);
    return schedule;
  }

  /** Another user's reservation is answered like a missing one. */
  #reservationOf(user: TokenEntry, reservationId: string): ReservationRecord {
    const reservation = this.#holds.find(reservationId);
    if (!reservation || reservation.userId !== user.userId) {
      throw new EngineError('RESERVATION_NOT_FOUND', `no reservation "${reservationId}"`);
    }
    return reservation;
  }
}

function tokenInvalid(): EngineError {
  return new EngineError('TOKEN_INVALID', 'the queue token is unknown or expired');
}

function alreadyPaid(): EngineError {
  return new EngineError('ALREADY_PAID', 'this reservation is already paid');
}

function holdExpired(status: string): EngineError {
  return new EngineError('HOLD_EXPIRED', `this hold is no longer held (it is ${status})`);
}
