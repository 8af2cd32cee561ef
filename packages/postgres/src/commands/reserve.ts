import {
  isEngineError,
  type Reservation,
  type ReservationRecord,
  type ReserveRequest,
} from '@usher/engine';
import {
  categoryOf,
  checkReserve,
  decideReserve,
  priceOf,
  reservationStatusAt,
  reservationView,
  SeatPicker,
  seatsOf,
  type Decision,
  type Occupant,
} from '@usher/engine/rules';
import { changesOf } from '../applies.js';
import { requireRouteRoom, type RouteConcert } from '../roomRoutes.js';
import type { CommandRunner } from '../CommandRunner.js';
import { inTransaction, isConflict, onClient, type Queryable } from '../database.js';
import { expireHoldsById } from '../keeper/expireHolds.js';
import { scheduleRecord } from '../reads.js';
import { HOLD_VIEWS, ORDER, orderApply } from './holds.js';
import { newId } from './issueToken.js';
import { SeatClaims } from './SeatClaims.js';

const claimsByRunner = new WeakMap<CommandRunner, SeatClaims>();
function claimsOf(runner: CommandRunner): SeatClaims {
  let claims = claimsByRunner.get(runner);
  if (!claims) claimsByRunner.set(runner, (claims = new SeatClaims()));
  return claims;
}

/** An occupant of a seat as the reserve view reads it. */
interface OccupantRow {
  readonly seatNo: number;
  readonly id: string;
  readonly userId: string;
  readonly status: Occupant['status'];
  readonly expiresAt: number | string;
}

/**
 * Reserves one seat, several (all or none) or the best available (SPEC §10).
 * Best available picks on the schedule's occupancy as read in the same
 * snapshot, with the rules' `SeatPicker`; the seats it picked are then
 * decided as a body of those seats (so holds past their deadline on them end
 * as for any body), and `reservation_seats_live` refuses any seat taken
 * meanwhile: the command reads and decides again.
 */
export function reserve(
  runner: CommandRunner,
  token: string,
  request: ReserveRequest,
): Promise<Reservation> {
  return runner.run(async (now) => {
    const command = checkReserve(request, runner.config);
    const asked =
      command.kind === 'seat'
        ? JSON.stringify([command.seatNo])
        : command.kind === 'seats'
          ? JSON.stringify(command.seatNos)
          : null;
    const claims = claimsOf(runner);
    let claimed: readonly number[] = [];
    const { answer } = await runner
      .decide('reserve', now, undefined, async (db) => {
        claims.release(command.scheduleId, claimed);
        claimed = [];
        // A pick leaves alone the seats this gateway committed after its read started (SeatClaims).
        const ticket = command.kind === 'best' ? claims.startRead() : undefined;
        try {
          return await attemptOnce(db, ticket);
        } finally {
          if (ticket !== undefined) claims.endRead(ticket);
        }
      })
      .then(
        (decided) => {
          // Any hold's seats, not only picked ones: a pick in flight may have read before it.
          claims.release(command.scheduleId, claimed);
          claims.committed(
            command.scheduleId,
            seatsOf(decided.answer).map((seat) => seat.seatNo),
          );
          return decided;
        },
        (error: unknown) => {
          claims.release(command.scheduleId, claimed);
          throw error;
        },
      );
    return reservationView(answer);

    async function attemptOnce(db: Queryable, ticket: number | undefined) {
      const read = await runner.read<{
        schedule: Record<string, unknown> | null;
        route_concert: RouteConcert | null;
        occupants: OccupantRow[] | null;
        held: string | null;
        tickets: string | null;
      }>(
        token,
        now,
        asked === null ? HOLD_VIEWS.reserveBest : HOLD_VIEWS.reserve,
        asked === null ? [command.scheduleId] : [command.scheduleId, asked],
        db,
      );
      if (read === 'again') return read;
      const { facts, row } = read;
      requireRouteRoom(facts.token, row.route_concert, now, runner.lifecycles);
      const record = row.schedule ? scheduleRecord(row.schedule) : undefined;
      const occupants = new Map<number, Occupant>();
      for (const occupant of row.occupants ?? [])
        occupants.set(Number(occupant.seatNo), {
          id: occupant.id,
          userId: occupant.userId,
          status: occupant.status,
          expiresAt: Number(occupant.expiresAt),
        });
      const heldByUser = Number(row.held ?? 0);
      const ticketsOfUser = Number(row.tickets ?? 0);
      const schedule = record && {
        id: record.id,
        totalSeats: record.totalSeats,
        priceOf: (seatNo: number) => priceOf(record.prices, seatNo),
        categoryOf: (seatNo: number) => categoryOf(record.prices, seatNo),
      };
      const occupantOf = (seatNo: number) => occupants.get(seatNo);
      const occupied = (seatNo: number) => {
        const occupant = occupants.get(seatNo);
        if (!occupant) return false;
        const status = reservationStatusAt(occupant as ReservationRecord, now, runner.lifecycles);
        return status === 'held' || status === 'paid';
      };
      const view = { ...facts, schedule, occupantOf, heldByUser, ticketsOfUser };
      const id = newId();
      const decideWith = (picker: SeatPicker | undefined) =>
        decideReserve({ ...view, picker }, command, now, runner.config, runner.lifecycles, id);
      let decision: Decision<ReservationRecord>;
      if (command.kind === 'best' && record) {
        // Seats other commands of this gateway are holding right now are left to them, so that
        // concurrent picks take different seats; none left besides those: pick among them too (the
        // database decides who gets them).
        const { scheduleId } = command;
        const leftAlone = claims.leftAlone(scheduleId, ticket!);
        try {
          decision = decideWith(
            new SeatPicker(record, (seatNo) => !occupied(seatNo) && !leftAlone(seatNo)),
          );
        } catch (error) {
          if (
            !isEngineError(error) ||
            error.code !== 'SEATS_UNAVAILABLE' ||
            !claims.hasAny(scheduleId)
          )
            throw error;
          decision = decideWith(new SeatPicker(record, (seatNo) => !occupied(seatNo)));
        }
        // The seats picked, decided as asked for: a hold past its deadline on one of them ends.
        const picked = changesOf(
          { ...decision, changes: decision.changes.filter((c) => c.type === 'reservationHeld') },
          ['reservationHeld'],
        ).reservationHeld!.reservation;
        claimed = seatsOf(picked).map((seat) => seat.seatNo);
        claims.claim(command.scheduleId, claimed);
        decision = decideReserve(
          { ...view, picker: undefined },
          { kind: 'seats', scheduleId: command.scheduleId, seatNos: claimed },
          now,
          runner.config,
          runner.lifecycles,
          id,
        );
      } else decision = decideWith(undefined);
      // Holds past their deadline on the seats it takes: their seats go to the waitlist first (SPEC §11).
      // They expire as the keeper's do, with their offers, in a transaction of their own (the pool's
      // spare connections: this attempt may hold a slot and its user's lock), and the reserve reads again.
      const stale = decision.changes.flatMap((change) =>
        change.type === 'reservationEnded' ? [change.id] : [],
      );
      if (stale.length > 0) {
        await onClient(runner.pool, (client) =>
          inTransaction(client, () => expireHoldsById(client, stale, now, runner.lifecycles)),
        ).catch((error: unknown) => {
          if (!isConflict(error)) throw error;
        });
        return 'again';
      }
      const apply = orderApply(decision, now, facts.token?.token ?? '', heldByUser, ticketsOfUser);
      return apply ? { decision, apply } : { decision };
    }
  });
}
