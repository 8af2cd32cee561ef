import type { EngineConfig } from '../config.js';
import { TIMEOUT, type Timeout } from '../machines/compileLifecycle.js';
import { queueTokenLifecycle } from '../machines/lifecycles.js';
import type { QueueTokenEvent } from '../machines/queueTokenMachine.js';
import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { CounterRecord, RoomRecord, TokenRecord } from '../persistence/records.js';
import { DeadlineHeap } from '../timers/DeadlineHeap.js';
import type { QueueToken, TokenEndReason } from '../types.js';
import type { TokenState } from '../rules/changes.js';
import { isAbandoned, placeBeforeOpening, tokenView, type Place } from '../rules/queue.js';
import { initialRoom, type OpeningRange, type RoomState } from '../rules/room.js';
import { drawnOrder, type Draw } from './DrawnOrder.js';
import { AdmissionRate } from './AdmissionRate.js';
import { RecencyList } from './RecencyList.js';
import { WaitingLine } from './WaitingLine.js';

import { TokenEntry } from './TokenEntry.js';

/**
 * The waiting room: every queue token, the FIFO line of waiting ones, the
 * active set and its deadlines, and the room's settings (SPEC §9).
 *
 * Costs: issue, poll, rank and abandon are O(log n) or better; an admission
 * tick is O(admitted); expiring is O(expired). Nothing scans the line but
 * the two events that end or redraw all of it: the opening and sold-out.
 */
export class WaitingRoom {
  readonly #config: EngineConfig;
  /** Its id: `undefined` for the default room, else the concert's id (SPEC §12). */
  readonly id: string | undefined;
  /** Every token of every room (shared by the rooms, so a token is found whatever its room). */
  readonly #tokens: Map<string, TokenEntry>;
  /** The user's waiting or active token. */
  readonly #liveByUser = new Map<string, TokenEntry>();
  #line = new WaitingLine<TokenEntry>();
  /** Who joined with a presale code, in join order: the head of the line, before {@link #line}, outside any draw. */
  readonly #priority = new WaitingLine<TokenEntry>();
  /** Waiting tokens from least to most recently polled. */
  readonly #recency = new RecencyList<TokenEntry>();
  readonly #deadlines = new DeadlineHeap<TokenEntry>();
  /** Tokens expired by a payment (kept for idempotent replays) or sold out (kept to say so), in the order they are forgotten. */
  readonly #kept = new Map<string, TokenEntry>();
  #active = 0;
  #admittedTotal = 0;
  #settings: RoomState;
  readonly rate: AdmissionRate;

  constructor(
    config: EngineConfig,
    room: {
      readonly id?: string;
      readonly tokens?: Map<string, TokenEntry>;
      readonly settings?: RoomState;
    } = {},
  ) {
    this.#config = config;
    this.id = room.id;
    this.#tokens = room.tokens ?? new Map();
    this.#settings = room.settings ?? initialRoom(config);
    this.rate = new AdmissionRate({
      admitPerTick: config.queueAdmitPerTick,
      tickMs: config.queueTickMs,
      maxActive: config.queueMaxActive,
      activeTtlMs: config.tokenActiveTtlMs,
    });
  }

  get waitingCount(): number {
    return this.#line.size + this.#priority.size;
  }

  /** Of the waiting, those who joined with a presale code. */
  get priorityWaiting(): number {
    return this.#priority.size;
  }

  get activeCount(): number {
    return this.#active;
  }

  /** Tokens ever admitted (durable: kept in the `counters` collection). */
  get admittedTotal(): number {
    return this.#admittedTotal;
  }

  /** The room's settings and state now. */
  get settings(): RoomState {
    return this.#settings;
  }

  /** The room's settings as the rules decided them; a new draw (the opening) reorders the line. */
  setRoom(room: RoomState, tx: ChangeSet): void {
    const drawn = room.draw !== null && room.draw.seed !== this.#settings.draw?.seed;
    this.#settings = room;
    this.rate.retune(room);
    if (drawn) this.#draw(room.draw!);
    this.#persistRoom(tx);
  }

  /** The room's own record: the default room's as before (`room`, `counters`), a concert's room's in `rooms`. */
  #persistRoom(tx: ChangeSet): void {
    if (this.id === undefined) tx.put('room', 'room', this.#settings);
    else tx.put('rooms', this.id, { room: this.#settings, admittedTotal: this.#admittedTotal });
  }

  find(token: string): TokenEntry | undefined {
    return this.#tokens.get(token);
  }

  /** The user's waiting or active token. */
  live(userId: string): TokenEntry | undefined {
    return this.#liveByUser.get(userId);
  }

  /** The line number the next waiting token gets. */
  get nextSeq(): number {
    return Math.max(this.#line.nextSeq, this.#priority.nextSeq);
  }

  /** Adds a token the rules issued: waiting at the end of the line, or active at once. */
  add(state: TokenState, tx: ChangeSet): TokenEntry {
    const entry = new TokenEntry(state.token, state.userId, state.seq, state.issuedAt);
    entry.room = this.id;
    entry.priority = state.priority === true;
    this.#tokens.set(entry.token, entry);
    this.#liveByUser.set(entry.userId, entry);
    if (state.status === 'active') {
      this.#admit(entry, state.expiresAt);
      this.#countAdmitted(tx);
    } else {
      this.#lineOf(entry).push(entry, entry.slot);
      this.#recency.append(entry);
    }
    tx.put('tokens', entry.token, entry.toJSON());
    return entry;
  }

  #lineOf(entry: TokenEntry): WaitingLine<TokenEntry> {
    return entry.priority ? this.#priority : this.#line;
  }

  /** Records a poll: a waiting token polled within `waitingTtl` is not abandoned. */
  poll(entry: TokenEntry, now: number): void {
    if (entry.status !== 'waiting') return;
    entry.lastSeenAt = now;
    this.#recency.touch(entry);
  }

  /** 1-based rank among waiting tokens, 0 once active; `null` while the room waits for its opening. */
  position(entry: TokenEntry): number | null {
    if (entry.status !== 'waiting') return 0;
    // A presale code's holder: its rank among them (they are admitted first, even before the opening).
    // Nobody else counts them: a code never moves anyone's number up.
    if (entry.priority) return this.#priority.rank(entry.slot);
    return this.#settings.pendingOpening ? null : this.#line.rank(entry.slot);
  }

  /** Admits the first `count` waiting tokens (the rules chose how many), active until `expiresAt`. */
  admitFirst(count: number, expiresAt: number, tx: ChangeSet): void {
    for (let admitted = 0; admitted < count; admitted++) {
      const entry = this.#priority.shift() ?? this.#line.shift();
      if (!entry)
        throw new Error(`asked to admit ${count} tokens, but only ${admitted} were waiting`);
      this.#recency.remove(entry);
      this.#admit(entry, expiresAt);
      tx.put('tokens', entry.token, entry.toJSON());
    }
    if (count > 0) this.#countAdmitted(tx);
  }

  /** Ends every waiting token: nothing is left to sell. Each is kept until `keepUntil`, saying so when polled. O(waiting). */
  soldOut(keepUntil: number, tx: ChangeSet): void {
    const next = () => this.#priority.shift() ?? this.#line.shift();
    for (let entry = next(); entry; entry = next()) {
      this.#fire(entry, 'SOLD_OUT');
      this.#recency.remove(entry);
      this.#liveByUser.delete(entry.userId);
      entry.expiresAt = keepUntil;
      entry.reason = 'sold_out';
      this.#kept.set(entry.token, entry);
      tx.put('tokens', entry.token, entry.toJSON());
    }
  }

  /**
   * What an opening at `cut` draws: from the first place in line to the last
   * place of someone who joined before `cut`; `null` when nobody did. O(waiting), once.
   */
  openingRange(cut: number): OpeningRange | null {
    let from = Infinity;
    let to = -Infinity;
    for (const entry of this.#line.values()) {
      from = Math.min(from, entry.seq);
      if (entry.issuedAt < cut) to = Math.max(to, entry.seq);
    }
    return to === -Infinity ? null : { from, to };
  }

  /** Moves an active token's deadline to `until` (later, as the rules decided). */
  extend(token: string, until: number, tx: ChangeSet): void {
    const entry = this.#tokens.get(token)!;
    if (until <= entry.expiresAt) return;
    this.#fire(entry, 'EXTEND');
    entry.expiresAt = until;
    this.#deadlines.push(until, entry);
    tx.put('tokens', entry.token, entry.toJSON());
  }

  /** Expires an active token after its user paid; it is kept until `keepUntil` for replays of idempotent requests. */
  complete(token: string, keepUntil: number, tx: ChangeSet): void {
    const entry = this.#tokens.get(token)!;
    this.#fire(entry, 'COMPLETE');
    this.#active--;
    this.#liveByUser.delete(entry.userId);
    entry.expiresAt = keepUntil;
    this.#kept.set(entry.token, entry);
    tx.put('tokens', entry.token, entry.toJSON());
  }

  /** Expires active tokens past their deadline and abandons waiting ones not polled for `waitingTtl`. */
  expireDue(now: number, tx: ChangeSet): void {
    for (let entry = this.#deadlines.popDue(now); entry; entry = this.#deadlines.popDue(now)) {
      if (entry.status !== 'active' || entry.expiresAt > now) continue;
      this.#fire(entry, TIMEOUT);
      this.#active--;
      this.#forget(entry, tx);
    }
    for (
      let entry = this.#recency.oldest;
      entry && isAbandoned(entry.lastSeenAt, now, this.#config);
      entry = this.#recency.oldest
    ) {
      this.#fire(entry, 'ABANDON');
      this.#recency.remove(entry);
      this.#lineOf(entry).remove(entry.slot);
      this.#forget(entry, tx);
    }
  }

  /** Forgets kept tokens whose retention ended. */
  purgeKept(now: number, tx: ChangeSet): void {
    for (const entry of this.#kept.values()) {
      if (entry.expiresAt > now) break;
      this.#kept.delete(entry.token);
      this.#tokens.delete(entry.token);
      tx.delete('tokens', entry.token);
    }
  }

  /** The earliest moment something here is due. */
  nextDeadline(): number {
    const oldest = this.#recency.oldest;
    const abandonAt = oldest ? oldest.lastSeenAt + this.#config.queueWaitingTtlMs : Infinity;
    return Math.min(this.#deadlines.peekAt(), abandonAt);
  }

  /** Where a token stands at `now`: its rank among waiting tokens (0 once active) and the wait that implies; before the opening, no rank. */
  placeOf(entry: TokenEntry, now: number): Place {
    const position = this.position(entry);
    if (position === null)
      return placeBeforeOpening(this.#settings, now, this.#line.size, this.rate);
    return { position, estimatedWaitSeconds: this.rate.secondsFor(position) };
  }

  /** The token as users see it at `now`. */
  view(entry: TokenEntry, now: number, reason?: TokenEndReason): QueueToken {
    return tokenView(entry, this.placeOf(entry, now), entry.lastSeenAt, this.#config, reason);
  }

  /** Restores the room's settings and its admitted count (a store from before they existed has neither: the configuration's room). */
  restoreRoom(room: RoomRecord | undefined, admitted: CounterRecord | undefined): void {
    if (room && this.id !== undefined) {
      // A concert's room: its own record has everything since its concert was added.
      this.#settings = room;
      this.rate.retune(room);
      this.#admittedTotal = admitted?.value ?? 0;
      return;
    }
    if (room) {
      this.#settings = { ...initialRoom(this.#config), ...room };
      this.rate.retune(this.#settings);
    }
    this.#admittedTotal = admitted?.value ?? 0;
  }

  /**
   * Rebuilds the room from stored tokens. Waiting tokens keep their order and
   * get a full `waitingTtl` from `now`; active tokens re-arm their stored
   * deadline; what ended while the process was down ends now (in `tx`).
   */
  restore(records: Iterable<TokenRecord>, now: number, tx: ChangeSet): void {
    const waiting: TokenEntry[] = [];
    const kept: TokenEntry[] = [];
    for (const record of records) {
      const entry = new TokenEntry(record.token, record.userId, record.seq, record.issuedAt);
      entry.status = record.status;
      entry.expiresAt = record.expiresAt ?? 0;
      entry.reason = record.reason;
      entry.room = record.room;
      entry.priority = record.priority === true;
      entry.lastSeenAt = now;
      this.#tokens.set(entry.token, entry);
      if (entry.status === 'waiting') waiting.push(entry);
      else if (entry.status === 'expired') kept.push(entry);
      else if (entry.expiresAt <= now) {
        this.#fire(entry, TIMEOUT);
        this.#forget(entry, tx);
      } else {
        this.#active++;
        this.#liveByUser.set(entry.userId, entry);
        this.#deadlines.push(entry.expiresAt, entry);
      }
    }
    waiting.sort((a, b) => a.seq - b.seq);
    for (const entry of waiting) {
      this.#lineOf(entry).push(entry, entry.slot);
      this.#recency.append(entry);
      this.#liveByUser.set(entry.userId, entry);
    }
    if (this.#settings.draw) this.#draw(this.#settings.draw);
    kept.sort((a, b) => a.expiresAt - b.expiresAt);
    for (const entry of kept) this.#kept.set(entry.token, entry);
    this.purgeKept(now, tx);
  }

  /**
   * Puts the places `draw` covers in its order: every waiting token in it
   * takes its drawn slot, and the line is rebuilt, drawn slots first, then
   * everyone after them in arrival order. O(waiting + places drawn), in memory:
   * what is durable is the draw itself (in the room record).
   */
  #draw(draw: Draw): void {
    const order = drawnOrder(draw);
    const drawn: (TokenEntry | undefined)[] = new Array(draw.to - draw.from + 1);
    const after: TokenEntry[] = [];
    for (const entry of this.#line.values()) {
      if (entry.seq >= draw.from && entry.seq <= draw.to) drawn[entry.seq - draw.from] = entry;
      else after.push(entry);
    }
    const line = new WaitingLine<TokenEntry>();
    for (let slot = draw.from; slot <= draw.to; slot++) {
      const entry = drawn[order.placeAt(slot) - draw.from];
      if (!entry) continue;
      entry.slot = slot;
      line.push(entry, slot);
    }
    for (const entry of after) line.push(entry, entry.slot);
    this.#line = line;
  }

  #countAdmitted(tx: ChangeSet): void {
    if (this.id === undefined) tx.put('counters', 'admittedTotal', { value: this.#admittedTotal });
    else this.#persistRoom(tx);
  }

  #admit(entry: TokenEntry, expiresAt: number): void {
    this.#admittedTotal++;
    this.#fire(entry, 'ADMIT');
    entry.expiresAt = expiresAt;
    this.#active++;
    this.#deadlines.push(entry.expiresAt, entry);
  }

  /** Drops an expired token: unknown and expired tokens are answered alike. */
  #forget(entry: TokenEntry, tx: ChangeSet): void {
    this.#tokens.delete(entry.token);
    if (this.#liveByUser.get(entry.userId) === entry) this.#liveByUser.delete(entry.userId);
    tx.delete('tokens', entry.token);
  }

  #fire(entry: TokenEntry, event: QueueTokenEvent['type'] | Timeout): void {
    const next = queueTokenLifecycle.next(entry.status, event);
    if (next === undefined)
      throw new Error(`queue token in "${entry.status}" cannot take ${event}`);
    entry.status = next;
  }
}
