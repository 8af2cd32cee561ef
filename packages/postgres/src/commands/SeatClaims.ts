/**
 * The seats this gateway's best-available commands have picked and not yet
 * committed or given up, and the seats they committed that some pick in
 * flight may not see yet, by schedule: other picks leave them alone, so a
 * burst of picks on one gateway takes different seats instead of all but one
 * losing the race for the same block. Only a hint: the database's
 * `reservation_seats_live` decides.
 *
 * Why committed seats stay claimed for a while: a pick decides on a snapshot
 * read before it runs (reads are batched), so seats another command of this
 * gateway committed after that read started are free in the pick's snapshot.
 * Released at once, they would be picked again and lose at the database (then
 * read, pick and lose again: with a thousand picks in flight, a command could
 * lose every try). So each read takes a ticket ({@link startRead}: the number
 * of commits so far), and a seat committed after the ticket was taken is
 * left alone by that pick; once no read older than a commit is in flight, the
 * commit's seats are forgotten.
 */
export class SeatClaims {
  /** Seats picked by commands in flight: schedule → seat → how many commands picked it. */
  readonly #picked = new Map<string, Map<number, number>>();
  /** Seats committed lately: schedule → seat → the commit's number. */
  readonly #committed = new Map<string, Map<number, number>>();
  /** The commits of {@link #committed} in order, to forget them. */
  readonly #commits: {
    readonly at: number;
    readonly scheduleId: string;
    readonly seatNos: readonly number[];
  }[] = [];
  /** Reads in flight: the commit count each started at → how many (keys ascending: counts only grow). */
  readonly #reads = new Map<number, number>();
  #commitCount = 0;

  /** A read is about to start: the ticket {@link isLeftAlone} and {@link endRead} take. */
  startRead(): number {
    const at = this.#commitCount;
    this.#reads.set(at, (this.#reads.get(at) ?? 0) + 1);
    return at;
  }

  /** The read of `ticket` has picked (or given up): commits it might not see need not be kept for it. */
  endRead(ticket: number): void {
    const count = (this.#reads.get(ticket) ?? 0) - 1;
    if (count > 0) this.#reads.set(ticket, count);
    else this.#reads.delete(ticket);
    this.#forget();
  }

  /** Whether a pick that read with `ticket` should leave `seatNo` of `scheduleId` to others. */
  isLeftAlone(scheduleId: string, seatNo: number, ticket: number): boolean {
    return this.leftAlone(scheduleId, ticket)(seatNo);
  }

  /** {@link isLeftAlone} of one schedule and read, as a function of the seat (a picker asks it of every seat). */
  leftAlone(scheduleId: string, ticket: number): (seatNo: number) => boolean {
    const picked = this.#picked.get(scheduleId);
    const committed = this.#committed.get(scheduleId);
    if (!picked && !committed) return () => false;
    return (seatNo) => {
      if (picked?.has(seatNo)) return true;
      const committedAt = committed?.get(seatNo);
      return committedAt !== undefined && committedAt > ticket;
    };
  }

  /** Whether any seat of `scheduleId` is left alone for some pick (so a pick refused on the rest may try among them). */
  hasAny(scheduleId: string): boolean {
    return this.#picked.has(scheduleId) || this.#committed.has(scheduleId);
  }

  claim(scheduleId: string, seatNos: readonly number[]): void {
    let seats = this.#picked.get(scheduleId);
    if (!seats) this.#picked.set(scheduleId, (seats = new Map()));
    for (const seatNo of seatNos) seats.set(seatNo, (seats.get(seatNo) ?? 0) + 1);
  }

  /** The command gave its seats up (refused, lost, or read again): they are anyone's. */
  release(scheduleId: string, seatNos: readonly number[]): void {
    const seats = this.#picked.get(scheduleId);
    if (!seats) return;
    for (const seatNo of seatNos) {
      const count = (seats.get(seatNo) ?? 0) - 1;
      if (count > 0) seats.set(seatNo, count);
      else seats.delete(seatNo);
    }
    if (seats.size === 0) this.#picked.delete(scheduleId);
  }

  /** A command of this gateway committed a hold of these seats: left alone by every pick whose read started before now. */
  committed(scheduleId: string, seatNos: readonly number[]): void {
    if (seatNos.length === 0) return;
    const at = ++this.#commitCount;
    if (this.#reads.size === 0) return;
    let seats = this.#committed.get(scheduleId);
    if (!seats) this.#committed.set(scheduleId, (seats = new Map()));
    for (const seatNo of seatNos) seats.set(seatNo, at);
    this.#commits.push({ at, scheduleId, seatNos });
  }

  /** Drops the commits every read in flight started after (or all, with none in flight). */
  #forget(): void {
    const oldest = this.#reads.keys().next();
    const before = oldest.done ? Infinity : oldest.value;
    let dropped = 0;
    while (dropped < this.#commits.length && this.#commits[dropped]!.at <= before) {
      const { at, scheduleId, seatNos } = this.#commits[dropped]!;
      const seats = this.#committed.get(scheduleId);
      for (const seatNo of seatNos) if (seats?.get(seatNo) === at) seats.delete(seatNo);
      if (seats?.size === 0) this.#committed.delete(scheduleId);
      dropped++;
    }
    if (dropped > 0) this.#commits.splice(0, dropped);
  }
}
