import type { StateChange } from '@usher/engine/rules';

/** What a decision assumed, for the apply to restate (see migration 002, `usher_apply`). */
export interface Assumptions {
  readonly userId?: string;
  readonly token?: string;
  readonly heldByUser?: number;
  readonly balance?: number;
  readonly waitingTtlMs?: number;
  readonly maxActive?: number;
}

/** A typed apply function (migration 006) in its `_many` form, and the SQL types of its array arguments. */
export interface ApplyKind {
  readonly name: 'hold' | 'pay' | 'charge' | 'issue';
  readonly fn: string;
  readonly types: readonly string[];
}

export const APPLY_KINDS: Readonly<Record<ApplyKind['name'], ApplyKind>> = {
  // now, user, token, held, id, schedule, seat, price, status, created_at, expires_at, stale, stale_at, extend_to
  hold: {
    name: 'hold',
    fn: 'usher_hold_many',
    types: [
      'bigint',
      'text',
      'text',
      'integer',
      'text',
      'text',
      'integer',
      'bigint',
      'text',
      'bigint',
      'bigint',
      'text',
      'bigint',
      'bigint',
    ],
  },
  // now, user, token, held, balance, reservation, paid_at, payment, amount, new_balance, created_at, key, fingerprint, result, keep_until
  pay: {
    name: 'pay',
    fn: 'usher_pay_many',
    types: [
      'bigint',
      'text',
      'text',
      'integer',
      'bigint',
      'text',
      'bigint',
      'text',
      'bigint',
      'bigint',
      'bigint',
      'text',
      'text',
      'jsonb',
      'bigint',
    ],
  },
  // now, user, token, balance, amount, key, fingerprint, result, created_at
  charge: {
    name: 'charge',
    fn: 'usher_charge_many',
    types: ['bigint', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'jsonb', 'bigint'],
  },
  // now, token, user, status, issued_at, expires_at, waiting_ttl, max_active
  issue: {
    name: 'issue',
    fn: 'usher_issue_many',
    types: ['bigint', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint'],
  },
};

/** The statement applying a batch of one kind: one row per item, in order. */
export function applySql(kind: ApplyKind): string {
  return `SELECT o_err, o_msg, o_seq, o_gone, o_tick FROM ${kind.fn}(${kind.types.map((type, i) => `$${i + 1}::${type}[]`).join(', ')})`;
}

/** A decision as one typed apply: its kind, the acting user (batches take users' locks in order) and its arguments. */
export interface TypedApply {
  readonly kind: ApplyKind;
  readonly user: string;
  readonly args: readonly unknown[];
  /** An issue at once: its batch holds the step lock exclusively until it commits. */
  readonly atOnce?: boolean;
}

type Change<T extends StateChange['type']> = Extract<StateChange, { type: T }>;

/**
 * The typed apply for a decision's changes, or `undefined` when they are not
 * one of the shapes the typed functions take (the engine then applies them
 * with the generic `usher_apply`): a typed path only ever applies exactly
 * the changes the shared rule decided, nothing it does not recognise.
 */
export function typedApply(
  changes: readonly StateChange[],
  now: number,
  assume: Assumptions,
): TypedApply | undefined {
  const byType = new Map<StateChange['type'], StateChange[]>();
  for (const change of changes)
    byType.set(change.type, [...(byType.get(change.type) ?? []), change]);
  const one = <T extends StateChange['type']>(type: T): Change<T> | undefined => {
    const found = byType.get(type);
    return found?.length === 1 ? (found[0] as Change<T>) : undefined;
  };
  const only = (...types: StateChange['type'][]) =>
    [...byType.keys()].every((type) => types.includes(type)) &&
    [...byType.values()].every((list) => list.length === 1);
  const { userId: user, token } = assume;
  const keyed = one('keyRemembered')?.record;
  const key = keyed
    ? [keyed.key, keyed.fingerprint, JSON.stringify(keyed.result)]
    : [null, null, null];

  const held = one('reservationHeld')?.reservation;
  if (held) {
    const stale = one('reservationEnded');
    const extended = one('tokenExtended');
    if (
      !only('reservationHeld', 'reservationEnded', 'tokenExtended') ||
      user === undefined ||
      token === undefined ||
      assume.heldByUser === undefined
    )
      return undefined;
    if (
      held.userId !== user ||
      (stale && stale.status !== 'expired') ||
      (extended && extended.token !== token)
    )
      return undefined;
    return {
      kind: APPLY_KINDS.hold,
      user,
      args: [
        now,
        user,
        token,
        assume.heldByUser,
        held.id,
        held.scheduleId,
        held.seatNo,
        held.price,
        held.status,
        held.createdAt,
        held.expiresAt,
        stale?.id ?? null,
        stale?.at ?? null,
        extended?.expiresAt ?? null,
      ],
    };
  }

  const payment = one('paymentMade')?.payment;
  if (payment) {
    const paid = one('reservationEnded');
    const completed = one('tokenCompleted');
    if (
      !only('paymentMade', 'reservationEnded', 'keyRemembered', 'tokenCompleted') ||
      user === undefined ||
      token === undefined
    )
      return undefined;
    if (
      assume.heldByUser === undefined ||
      assume.balance === undefined ||
      !paid ||
      paid.status !== 'paid' ||
      paid.id !== payment.reservationId
    )
      return undefined;
    if (
      payment.userId !== user ||
      (keyed && (keyed.userId !== user || keyed.createdAt !== payment.createdAt)) ||
      (completed && completed.token !== token)
    )
      return undefined;
    return {
      kind: APPLY_KINDS.pay,
      user,
      args: [
        now,
        user,
        token,
        assume.heldByUser,
        assume.balance,
        paid.id,
        paid.at,
        payment.id,
        payment.amount,
        payment.balance,
        payment.createdAt,
        ...key,
        completed?.keepUntil ?? null,
      ],
    };
  }

  const credited = one('walletCredited');
  if (credited) {
    if (
      !only('walletCredited', 'keyRemembered') ||
      user === undefined ||
      token === undefined ||
      assume.balance === undefined
    )
      return undefined;
    if (credited.userId !== user || (keyed && keyed.userId !== user)) return undefined;
    return {
      kind: APPLY_KINDS.charge,
      user,
      args: [now, user, token, assume.balance, credited.amount, ...key, keyed?.createdAt ?? null],
    };
  }

  const issued = one('tokenIssued')?.token;
  if (issued) {
    if (!only('tokenIssued') || assume.waitingTtlMs === undefined || assume.maxActive === undefined)
      return undefined;
    if (issued.status !== 'waiting' && issued.status !== 'active') return undefined;
    return {
      kind: APPLY_KINDS.issue,
      user: issued.userId,
      args: [
        now,
        issued.token,
        issued.userId,
        issued.status,
        issued.issuedAt,
        issued.expiresAt,
        assume.waitingTtlMs,
        assume.maxActive,
      ],
      atOnce: issued.status === 'active',
    };
  }
  return undefined;
}
