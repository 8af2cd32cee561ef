import { type Reservation, type ReservationRecord, type ReservedSeat } from '@usher/engine';
import {
  amountOf,
  checkListStatus,
  decideCancel,
  decideExtend,
  decideGetReservation,
  decideListReservations,
  requireId,
  reservationView,
  isOffer,
  seatsFreedBy,
  seatsOf,
  type Decision,
} from '@usher/engine/rules';
import { applyKind, changesOf, type ApplyCall } from '../applies.js';
import type { CommandRunner } from '../CommandRunner.js';
import type { Queryable } from '../database.js';
import type { Facts } from '../LineMirror.js';
import { RESERVATION_COLUMNS, reservationRecord, type ViewKind } from '../reads.js';
import { requireRouteRoom, routeConcertColumn, type RouteConcert } from '../roomRoutes.js';
import {
  headOf,
  offersOf,
  WAITLIST_HEAD_EXTRA,
  waitlistHeadColumns,
  type HeadRow,
  type OfferArgs,
} from './offers.js';

/** A reservation of the token's user by id (`p1`), as JSON. */
const RESERVATION = `(SELECT row_to_json(r) FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = q.p1) r) AS reservation,
  ${routeConcertColumn('(SELECT schedule_id FROM reservations WHERE id = q.p1)')}`;

/** What holding, reading, listing and cancelling read beside the token. */
export const HOLD_VIEWS = {
  reserve: {
    name: 'reserve',
    // p2: the seats asked for (a JSON array): one probe of reservation_seats_live per seat (LIMIT 1, which
    // that unique index allows, keeps the planner from joining on a scan of the schedule's occupied seats;
    // so did `p2 IS NULL OR …` in one view with best available, which cost O(occupied) per hold).
    params: ['text', 'jsonb'],
    columns: `(SELECT record FROM schedules WHERE id = q.p1) AS schedule, ${routeConcertColumn('q.p1')},
      (SELECT json_agg(o.occupant) FROM jsonb_array_elements_text(q.p2) e
         CROSS JOIN LATERAL (SELECT json_build_object('seatNo', s.seat_no, 'id', s.reservation_id, 'userId',
             s.user_id, 'status', s.status, 'expiresAt', s.expires_at) AS occupant
           FROM reservation_seats s
          WHERE s.schedule_id = q.p1 AND s.seat_no = e.value::bigint AND usher_seat_live(s) LIMIT 1) o
      ) AS occupants,
      usher_live_holds(tk.user_id, q.now) AS held,
      usher_ticket_count(tk.user_id, q.p1, q.now) AS tickets`,
  },
  reserveBest: {
    name: 'reserveBest',
    // Best available: every occupied seat of the schedule.
    params: ['text'],
    columns: `(SELECT record FROM schedules WHERE id = q.p1) AS schedule, ${routeConcertColumn('q.p1')},
      (SELECT json_agg(json_build_object('seatNo', s.seat_no, 'id', s.reservation_id, 'userId', s.user_id,
                                         'status', s.status, 'expiresAt', s.expires_at))
         FROM reservation_seats s WHERE s.schedule_id = q.p1 AND usher_seat_live(s)) AS occupants,
      usher_live_holds(tk.user_id, q.now) AS held,
      usher_ticket_count(tk.user_id, q.p1, q.now) AS tickets`,
  },
  reservation: { name: 'reservation', params: ['text'], columns: RESERVATION },
  // A cancel: the reservation and the head of its schedule's waitlist, as many entries as it has seats (SPEC §11).
  cancel: {
    name: 'cancel',
    params: ['text'],
    columns: `${RESERVATION}, ${waitlistHeadColumns(
      '(SELECT schedule_id FROM reservations WHERE id = q.p1)',
      `(SELECT usher_seat_count(r) + ${WAITLIST_HEAD_EXTRA} FROM reservations r WHERE r.id = q.p1)`,
    )}`,
  },
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

/** `usher_order`'s fields (migration 3), and `usher_order_tickets`' (migration 8): a hold of one or several seats. */
export interface OrderArgs {
  readonly now: number;
  readonly user_id: string;
  readonly token: string;
  /** The user's live holds and tickets of the schedule, as the decision read them. */
  readonly held: number;
  readonly tickets: number;
  readonly id: string;
  readonly schedule_id: string;
  readonly seat_no: number;
  readonly price: number;
  readonly seats: readonly ReservedSeat[];
  readonly amount: number;
  readonly status: string;
  readonly created_at: number;
  readonly expires_at: number;
  /** Holds past their deadline on its seats, which this one replaces (each ended at its deadline). */
  readonly stale_ids: readonly string[];
  readonly stale_ats: readonly number[];
  /** The token now lasts at least until then (the end of the hold). */
  readonly extend_to: number | null;
}
/** Holds are applied by migration 8's overload, which restates the user's tickets as tickets count them (`usher_ticket_count`). */
export const ORDER = applyKind<OrderArgs>('usher_order_tickets');

/** `usher_extend`'s fields (migration 3). */
export interface ExtendArgs {
  readonly now: number;
  readonly user_id: string;
  readonly token: string;
  readonly reservation_id: string;
  readonly expires_at: number;
  readonly extensions: number;
  readonly extend_to: number | null;
}
export const EXTEND = applyKind<ExtendArgs>('usher_extend');

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

/** `usher_cancel_offers`' fields (migration 9): the cancel, by a known token for an offered hold, and the offers of its seats. */
export interface CancelOffersArgs extends CancelArgs, OfferArgs {
  readonly known: boolean;
}
export const CANCEL_OFFERS = applyKind<CancelOffersArgs>('usher_cancel_offers');

/** `usher_extend_offer`'s fields (migration 9): an offered hold extended with a known token. */
export type ExtendOfferArgs = Omit<ExtendArgs, 'extend_to'>;
export const EXTEND_OFFER = applyKind<ExtendOfferArgs>('usher_extend_offer');

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

/** The apply of a reserve decision of any body: the hold, the stale holds it replaces, the token's extension. */
export function orderApply(
  decision: Decision<unknown>,
  now: number,
  token: string,
  held: number,
  tickets: number,
): ApplyCall<OrderArgs> | undefined {
  const stale = decision.changes.filter((change) => change.type === 'reservationEnded');
  const changes = changesOf(
    {
      ...decision,
      changes: decision.changes.filter((change) => change.type !== 'reservationEnded'),
    },
    ['reservationHeld', 'tokenExtended'],
  );
  const hold = changes.reservationHeld?.reservation;
  if (!hold) return undefined;
  for (const ended of stale)
    if (ended.status !== 'expired')
      throw new Error(`a hold replaces only expired ones, not a ${ended.status} one`);
  return {
    kind: ORDER,
    user: hold.userId,
    args: {
      now,
      user_id: hold.userId,
      token,
      held,
      tickets,
      id: hold.id,
      schedule_id: hold.scheduleId,
      seat_no: hold.seatNo,
      price: hold.price,
      seats: seatsOf(hold),
      amount: amountOf(hold),
      status: hold.status,
      created_at: hold.createdAt,
      expires_at: hold.expiresAt,
      stale_ids: stale.map((ended) => ended.id),
      stale_ats: stale.map((ended) => ended.at),
      extend_to: changes.tokenExtended?.expiresAt ?? null,
    },
  };
}

/** The apply of an extend decision (of an offered hold: with a known token, no token extended). */
export function extendApply(
  decision: Decision<unknown>,
  now: number,
  facts: Facts,
  reservation?: ReservationRecord,
): ApplyCall<ExtendArgs | ExtendOfferArgs> | undefined {
  const changes = changesOf(decision, ['reservationExtended', 'tokenExtended']);
  const extended = changes.reservationExtended;
  if (!extended || !facts.token) return undefined;
  const { userId, token } = facts.token;
  if (isOffer(reservation) && !changes.tokenExtended) {
    // An offered hold (SPEC §11): extended with any known token of its owner's.
    return {
      kind: EXTEND_OFFER,
      user: userId,
      args: {
        now,
        user_id: userId,
        token,
        reservation_id: extended.id,
        expires_at: extended.expiresAt,
        extensions: extended.extensions,
      },
    };
  }
  return {
    kind: EXTEND,
    user: userId,
    args: {
      now,
      user_id: userId,
      token,
      reservation_id: extended.id,
      expires_at: extended.expiresAt,
      extensions: extended.extensions,
      extend_to: changes.tokenExtended?.expiresAt ?? null,
    },
  };
}

/**
 * The apply of a cancel decision and of the offers of the seats it frees
 * (`offers`, SPEC §11): both in one transaction (`usher_cancel_offers`).
 */
export function cancelApply(
  decision: Decision<unknown>,
  now: number,
  facts: Facts,
  reservation: ReservationRecord | undefined,
  offers: OfferArgs | undefined,
): ApplyCall<CancelOffersArgs> | undefined {
  const ended = changesOf(decision, ['reservationEnded']).reservationEnded;
  if (!ended || !facts.token) return undefined;
  if (!reservation || reservation.id !== ended.id || !offers)
    throw new Error('a cancel frees the seats of its own reservation');
  const { userId, token } = facts.token;
  return {
    kind: CANCEL_OFFERS,
    user: userId,
    args: {
      now,
      user_id: userId,
      token,
      reservation_id: ended.id,
      status: ended.status,
      at: ended.at,
      known: isOffer(reservation),
      ...offers,
    },
  };
}

/** Extends a hold (SPEC §10) by `holdExtensionMs`, at most `holdExtensions` times. */
export function extendReservation(
  runner: CommandRunner,
  token: string,
  reservationId: string,
): Promise<Reservation> {
  return runner.run(async (now) => {
    requireId(reservationId, 'reservationId');
    const { answer } = await runner.decide('extendReservation', now, undefined, async (db) => {
      const { facts, reservation } = await readReservation(runner, token, reservationId, now, db);
      const decision = decideExtend(
        { ...facts, reservation },
        reservationId,
        now,
        runner.config,
        runner.lifecycles,
      );
      const apply = extendApply(decision, now, facts, reservation);
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
  kind: ViewKind = HOLD_VIEWS.reservation,
): Promise<{ facts: Facts; reservation: ReservationRecord | undefined; row: Partial<HeadRow> }> {
  const { facts, row } = await runner.view<
    {
      reservation: Record<string, unknown> | null;
      route_concert: RouteConcert | null;
    } & Partial<HeadRow>
  >(token, now, kind, [reservationId], db);
  const reservation = row.reservation ? reservationRecord(row.reservation) : undefined;
  // Checked for the token's own reservation only (another's is not found); a hold offered from the
  // waitlist takes any known token of its owner's, of any room (SPEC §11).
  if (reservation && reservation.userId === facts.token?.userId && !isOffer(reservation))
    requireRouteRoom(facts.token, row.route_concert, now, runner.lifecycles);
  return { facts, reservation, row };
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
      const { facts, reservation, row } = await readReservation(
        runner,
        token,
        reservationId,
        now,
        db,
        HOLD_VIEWS.cancel,
      );
      const decision = decideCancel(
        { ...facts, reservation },
        reservationId,
        now,
        runner.lifecycles,
      );
      if (decision.changes.length === 0 || !reservation) return { decision };
      // Its seats go to the schedule's waitlist first (SPEC §11), in the cancel's transaction.
      const { head, schedule } = headOf(row);
      const offers = offersOf(
        reservation.scheduleId,
        seatsFreedBy(decision.changes, (id) => (id === reservation.id ? reservation : undefined)),
        head,
        schedule,
        now,
        runner.lifecycles,
      );
      const apply = cancelApply(decision, now, facts, reservation, offers.args);
      const offered = { ...decision, changes: [...decision.changes, ...offers.changes] };
      return apply ? { decision: offered, apply } : { decision };
    });
    return reservationView(answer);
  });
}
