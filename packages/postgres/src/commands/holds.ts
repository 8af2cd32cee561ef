import {
  EngineError,
  type Reservation,
  type ReservationRecord,
  type ReserveRequest,
} from '@usher/engine';
import {
  checkListStatus,
  checkReserve,
  decideCancel,
  decideGetReservation,
  decideListReservations,
  decideReserve,
  priceOf,
  requireId,
  reservationView,
  type Decision,
  type Occupant,
} from '@usher/engine/rules';
import { applyKind, changesOf, type ApplyCall } from '../applies.js';
import type { CommandRunner } from '../CommandRunner.js';
import type { Queryable } from '../database.js';
import type { Facts } from '../LineMirror.js';
import { RESERVATION_COLUMNS, reservationRecord, scheduleRecord, type ViewKind } from '../reads.js';
import { newId } from './issueToken.js';

/** A reservation of the token's user by id (`p1`), as JSON. */
const RESERVATION = `(SELECT row_to_json(r) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = q.p1) r) AS reservation`;

/** What holding, reading, listing and cancelling read beside the token. */
export const HOLD_VIEWS = {
  reserve: {
    name: 'reserve',
    params: ['text', 'integer'],
    columns: `(SELECT record FROM schedules WHERE id = q.p1) AS schedule,
      (SELECT json_build_object('id', id, 'userId', user_id, 'status', status, 'expiresAt', expires_at)
         FROM reservations r WHERE r.schedule_id = q.p1 AND r.seat_no = q.p2 AND usher_reservation_live(r)) AS occupant,
      usher_live_holds(tk.user_id, q.now) AS held`,
  },
  reservation: { name: 'reservation', params: ['text'], columns: RESERVATION },
  reservations: {
    name: 'reservations',
    params: [],
    // One indexed read (reservations_live_by_user): the token's user's held and paid rows.
    columns: `(SELECT json_agg(row_to_json(x)) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations r
        WHERE r.user_id = tk.user_id AND usher_reservation_live(r)) x) AS reservations`,
  },
} as const satisfies Record<string, ViewKind>;

/** `usher_hold`'s fields (migration 1, `applies.ts`). */
export interface HoldArgs {
  readonly now: number;
  readonly user_id: string;
  readonly token: string;
  /** The user's live holds, as the decision read them. */
  readonly held: number;
  readonly id: string;
  readonly schedule_id: string;
  readonly seat_no: number;
  readonly price: number;
  readonly status: string;
  readonly created_at: number;
  readonly expires_at: number;
  /** A hold past its deadline on the seat, which this one replaces (ended at its deadline). */
  readonly stale_id: string | null;
  readonly stale_at: number | null;
  /** The token now lasts at least until then (the end of the hold). */
  readonly extend_to: number | null;
}
export const HOLD = applyKind<HoldArgs>('usher_hold');

/** `usher_cancel`'s fields. */
export interface CancelArgs {
  readonly now: number;
  readonly user_id: string;
  readonly token: string;
  readonly reservation_id: string;
  readonly status: string;
  readonly at: number;
}
export const CANCEL = applyKind<CancelArgs>('usher_cancel');

/** The apply of a reserve decision: the hold, the stale hold it replaces, the token's extension. */
export function holdApply(
  decision: Decision<unknown>,
  now: number,
  token: string,
  held: number,
): ApplyCall<HoldArgs> | undefined {
  const changes = changesOf(decision, ['reservationHeld', 'reservationEnded', 'tokenExtended']);
  const hold = changes.reservationHeld?.reservation;
  if (!hold) return undefined;
  const stale = changes.reservationEnded;
  if (stale && stale.status !== 'expired')
    throw new Error(`a hold replaces only an expired one, not a ${stale.status} one`);
  return {
    kind: HOLD,
    user: hold.userId,
    args: {
      now,
      user_id: hold.userId,
      token,
      held,
      id: hold.id,
      schedule_id: hold.scheduleId,
      seat_no: hold.seatNo,
      price: hold.price,
      status: hold.status,
      created_at: hold.createdAt,
      expires_at: hold.expiresAt,
      stale_id: stale?.id ?? null,
      stale_at: stale?.at ?? null,
      extend_to: changes.tokenExtended?.expiresAt ?? null,
    },
  };
}

/** The apply of a cancel decision. */
export function cancelApply(
  decision: Decision<unknown>,
  now: number,
  facts: Facts,
): ApplyCall<CancelArgs> | undefined {
  const ended = changesOf(decision, ['reservationEnded']).reservationEnded;
  if (!ended || !facts.token) return undefined;
  const { userId, token } = facts.token;
  return {
    kind: CANCEL,
    user: userId,
    args: {
      now,
      user_id: userId,
      token,
      reservation_id: ended.id,
      status: ended.status,
      at: ended.at,
    },
  };
}

export function reserve(
  runner: CommandRunner,
  token: string,
  request: ReserveRequest,
): Promise<Reservation> {
  return runner.run(async (now) => {
    const command = checkReserve(request, runner.config);
    // TODO(issue 22, PostgreSQL side): orders of several seats and best available (SPEC §10).
    if (command.kind !== 'seat')
      throw new EngineError(
        'VALIDATION_FAILED',
        'seatNos and quantity are not supported on PostgreSQL yet: give one seatNo',
      );
    const { answer } = await runner.decide('reserve', now, undefined, async (db) => {
      const read = await runner.read<{
        schedule: Record<string, unknown> | null;
        occupant: Occupant | null;
        held: string | null;
      }>(token, now, HOLD_VIEWS.reserve, [command.scheduleId, command.seatNo], db);
      if (read === 'again') return read;
      const { facts, row } = read;
      const record = row.schedule ? scheduleRecord(row.schedule) : undefined;
      const heldByUser = Number(row.held ?? 0);
      const view = {
        ...facts,
        schedule: record && {
          id: record.id,
          totalSeats: record.totalSeats,
          priceOf: (seatNo: number) => priceOf(record.prices, seatNo),
        },
        occupantOf: (seatNo: number) =>
          row.occupant && seatNo === command.seatNo
            ? { ...row.occupant, expiresAt: Number(row.occupant.expiresAt) }
            : undefined,
        picker: undefined,
        heldByUser,
        // TODO(issue 22, PostgreSQL side): the user's held + paid seats of this schedule (MAX_TICKETS_PER_USER).
        ticketsOfUser: 0,
      };
      const decision = decideReserve(view, command, now, runner.config, runner.lifecycles, newId());
      const apply = holdApply(decision, now, facts.token?.token ?? '', heldByUser);
      return apply ? { decision, apply } : { decision };
    });
    return reservationView(answer);
  });
}

async function readReservation(
  runner: CommandRunner,
  token: unknown,
  reservationId: string,
  now: number,
  db: Queryable,
): Promise<{ facts: Facts; reservation: ReservationRecord | undefined }> {
  const { facts, row } = await runner.view<{ reservation: Record<string, unknown> | null }>(
    token,
    now,
    HOLD_VIEWS.reservation,
    [reservationId],
    db,
  );
  return { facts, reservation: row.reservation ? reservationRecord(row.reservation) : undefined };
}

export function getReservation(
  runner: CommandRunner,
  token: string,
  reservationId: string,
): Promise<Reservation> {
  return runner.run(async (now) => {
    requireId(reservationId, 'reservationId');
    const { facts, reservation } = await readReservation(
      runner,
      token,
      reservationId,
      now,
      runner.db,
    );
    return reservationView(
      decideGetReservation({ ...facts, reservation }, reservationId, now, runner.lifecycles),
    );
  });
}

export function listReservations(
  runner: CommandRunner,
  token: string,
  options: { readonly status?: 'held' | 'paid' } = {},
): Promise<readonly Reservation[]> {
  return runner.run(async (now) => {
    const status = checkListStatus(options?.status);
    const { facts, row } = await runner.view<{ reservations: Record<string, unknown>[] | null }>(
      token,
      now,
      HOLD_VIEWS.reservations,
      [],
    );
    // The rule drops holds past their deadline.
    const reservations = (row.reservations ?? []).map(reservationRecord);
    return decideListReservations({ ...facts, reservations }, status, now, runner.lifecycles).map(
      reservationView,
    );
  });
}

export function cancelReservation(
  runner: CommandRunner,
  token: string,
  reservationId: string,
): Promise<Reservation> {
  return runner.run(async (now) => {
    requireId(reservationId, 'reservationId');
    const { answer } = await runner.decide('cancelReservation', now, undefined, async (db) => {
      const { facts, reservation } = await readReservation(runner, token, reservationId, now, db);
      const decision = decideCancel(
        { ...facts, reservation },
        reservationId,
        now,
        runner.lifecycles,
      );
      const apply = cancelApply(decision, now, facts);
      return apply ? { decision, apply } : { decision };
    });
    return reservationView(answer);
  });
}
