import { Catalog } from '../catalog/Catalog.js';
import type { EngineConfig } from '../config.js';
import { HoldBook } from '../holds/HoldBook.js';
import { newId } from '../ids.js';
import { lifecyclesFor, type Lifecycles } from '../machines/lifecycles.js';
import { IdempotencyKeys } from '../idempotency/IdempotencyKeys.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { StoreContents } from '../persistence/Store.js';
import { newDrawSeed } from '../queue/DrawnOrder.js';
import { WaitingRoom, type TokenEntry } from '../queue/WaitingRoom.js';
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
import { decideExtend, ticketsOf, type ReserveInput } from '../rules/orders.js';
import {
  decideIssue,
  decideTick,
  keptUntil,
  requireReadable,
  requireTokenArg,
  tokenView,
  type Place,
  type TokenFacts,
} from '../rules/queue.js';
import { decideUpdateRoom, isOpeningDue, roomView } from '../rules/room.js';
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
  readonly #room: WaitingRoom;
  readonly #holds: HoldBook;
  readonly #ledger = new Ledger();
  readonly #keys = new IdempotencyKeys();
  /** Spent proof-of-work solutions: when each one's challenge expires. */
  readonly #spent = new Map<string, number>();
  /** Tokens someone watches, with what they were last told. */
  readonly #watched = new Map<string, QueueToken>();
  readonly #lifecycles: Lifecycles;
  /** The time of the command being handled (token places before the opening count down to it). */
  #now = 0;

  constructor(config: EngineConfig) {
    this.#config = config;
    this.#lifecycles = lifecyclesFor(config);
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
    return Math.min(this.#holds.nextDeadline(), this.#room.nextDeadline());
  }

  /** Rebuilds everything from a store's contents; what ended during downtime ends now (in `tx`). */
  restore(contents: StoreContents, now: number, tx: ChangeSet): void {
    for (const concert of contents.concerts.values()) this.#catalog.addConcert(concert);
    for (const schedule of contents.schedules.values()) this.#catalog.addSchedule(schedule);
    this.#holds.restore(contents.reservations.values(), now, tx);
    this.#room.restoreRoom(contents.room.get('room'), contents.counters.get('admittedTotal'));
    this.#room.restore(contents.tokens.values(), now, tx);
    this.#ledger.restore(contents.wallets.values(), contents.payments.values());
    this.#keys.restore(contents.idempotency.values());
    for (const [id, { expiresAt }] of contents.spent) this.#spent.set(id, expiresAt);
  }

  readonly #handlers: { [K in CommandType]: Handler<K> } = {
    loadCatalog: ({ catalog }, _now, tx) =>
      this.#decided(decideLoadCatalog(this.#known, catalog), tx),

    issueToken: ({ userId }, now, tx) => {
      const live = typeof userId === 'string' ? this.#room.live(userId) : undefined;
      if (live) this.#room.poll(live, now);
      const view = {
        live,
        waiting: this.#room.waitingCount,
        active: this.#room.activeCount,
        room: this.#room.settings,
      };
      const fresh = { token: newId(), seq: this.#room.nextSeq };
      const { token, created, reason } = this.#decided(
        decideIssue(view, userId, now, this.#config, this.#lifecycles, fresh),
        tx,
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
      return { token: this.#room.view(this.#room.find(token.token)!, now), created };
    },

    getToken: ({ token }, now) => this.#room.view(this.#polled(token, now), now),

    tokenOwner: ({ token }) =>
      typeof token === 'string' ? this.#room.find(token)?.userId : undefined,

    watch: ({ token }, now) => {
      const entry = this.#polled(token, now);
      const view = this.#room.view(entry, now);
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
          ? ticketsOf(
              this.#holds.liveOf(token.userId),
              token.userId,
              command.scheduleId,
              now,
              this.#lifecycles,
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
      const userId = token?.userId;
      const view = {
        arg: raw.token,
        token,
        placeOf: this.#placeOf,
        reservation: this.#holds.find(command.reservationId),
        stored: userId === undefined ? undefined : this.#keys.find(userId, command.idempotencyKey),
        balance: userId === undefined ? 0 : this.#ledger.balanceOf(userId),
        heldByUser: userId === undefined ? 0 : this.#holds.heldBy(userId),
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
      const room = this.#room.settings;
      const view = {
        room,
        waiting: this.#room.waitingCount,
        active: this.#room.activeCount,
        stock: {
          totalSeats: this.#catalog.totalSeats,
          heldSeats: this.#holds.heldCount,
          paidSeats: this.#holds.paidCount,
        },
        ...(isOpeningDue(room, now) ? { opening: this.#room.openingRange(room.opensAt!) } : {}),
      };
      const outcome = this.#decided(decideTick(view, now, this.#lifecycles, newDrawSeed), tx);
      if (outcome.observed) this.#room.rate.observe(outcome.admitted);
      const report = {
        admitted: outcome.admitted,
        waiting: this.#room.waitingCount,
        active: this.#room.activeCount,
      };
      return { report, updates: this.#watchUpdates(now) };
    },

    room: () => this.#roomNow(),

    spendChallenge: (raw, _now, tx) => {
      const { id, expiresAt } = checkSpend(raw.id, raw.expiresAt);
      if (this.#spent.has(id)) return false;
      this.#spent.set(id, expiresAt);
      tx.put('spent', id, { expiresAt });
      return true;
    },

    updateRoom: ({ patch }, now, tx) => {
      const before = this.#roomNow();
      this.#decided(decideUpdateRoom(this.#room.settings, patch, now), tx);
      return { before, room: this.#roomNow() };
    },

    sweep: (_command, now, tx) => {
      this.#holds.sweep(now, tx);
      this.#holds.purgeEnded(now - this.#config.reservationRetentionMs, tx);
      this.#keys.purge(now - this.#config.idempotencyTtlMs, tx);
      this.#room.purgeKept(now, tx);
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

  /** Applies a decision's changes to memory and to the command's change set; answers the decision's answer. */
  #decided<A>({ changes, answer }: Decision<A>, tx: ChangeSet): A {
    for (const change of changes) this.#apply(change, tx);
    return answer;
  }

  #apply(change: StateChange, tx: ChangeSet): void {
    switch (change.type) {
      case 'tokenIssued':
        return void this.#room.add(change.token, tx);
      case 'tokensAdmitted':
        return this.#room.admitFirst(change.count, change.expiresAt, tx);
      case 'tokensSoldOut':
        return this.#room.soldOut(keptUntil(this.#now, this.#config), tx);
      case 'roomChanged':
        return this.#room.setRoom(change.room, tx);
      case 'tokenExtended':
        return this.#room.extend(change.token, change.expiresAt, tx);
      case 'tokenCompleted':
        return this.#room.complete(change.token, change.keepUntil, tx);
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
      case 'catalogAdded':
        return this.#catalog.add(change.concerts, change.schedules, tx);
    }
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
      const entry = this.#room.find(token);
      let current: WatchedNow;
      if (entry?.status === 'waiting') {
        this.#room.poll(entry, now);
        const place = this.#room.placeOf(entry, now);
        current = { place, view: () => tokenView(entry, place, entry.lastSeenAt, this.#config) };
      } else if (entry && entry.status !== 'expired') {
        current = { view: this.#room.view(entry, now) };
      }
      const view = watchUpdate(last, current, this.#room.settings.soldOut);
      if (view === undefined) continue;
      updates.push(view);
      if (view.status === 'waiting') this.#watched.set(token, view);
      else this.#watched.delete(token);
    }
    return updates;
  }

  /** The room with its counts now. */
  #roomNow() {
    return roomView(this.#room.settings, {
      waiting: this.#room.waitingCount,
      active: this.#room.activeCount,
      admittedTotal: this.#room.admittedTotal,
    });
  }

  /** The command's token as the rules see it (after the argument check), with how to rank it. */
  #tokenFacts(token: unknown): TokenFacts {
    return { arg: token, token: this.#token(token), placeOf: this.#placeOf };
  }

  /** The token named by a command's argument, if the engine knows it. */
  #token(token: unknown): TokenEntry | undefined {
    return typeof token === 'string' ? this.#room.find(token) : undefined;
  }

  readonly #placeOf = (token: TokenState): Place =>
    this.#room.placeOf(token as TokenEntry, this.#now);

  #reservationFacts(token: unknown, reservationId: unknown): ReservationView {
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
      this.#room.find(requireTokenArg(token)),
      now,
      this.#lifecycles,
    ) as TokenEntry;
    this.#room.poll(entry, now);
    return entry;
  }

  readonly #known: KnownCatalog = {
    concert: (id) => this.#catalog.concert(id),
    schedule: (id) => this.#catalog.schedule(id)?.record,
  };
}
