import type { Decision, StateChange } from '@usher/engine/rules';
import type { Outcome } from './batch.js';
import { query, type Queryable } from './database.js';
import { compareText } from './reads.js';
import { requireStorable } from './storable.js';

/**
 * A kind of apply (migration 1, `applies.ts`): the composite type whose
 * named fields carry a decision's facts, and the statement that applies a
 * batch of them. `A` is that type's fields as the engine sends them (JSON
 * objects; a test checks they are the type's attributes).
 */
export interface ApplyKind<A> {
  readonly type: string;
  readonly sql: string;
  /** A batch of this kind holds the step lock exclusively to its commit (issues at once). */
  readonly exclusive?: boolean;
  /** Never set: carries `A`. */
  readonly args?: A;
}

/** A kind applied by `usher_apply(<type>)`, batched by `usher_apply_each`. */
export function applyKind<A>(type: string): ApplyKind<A> {
  return { type, sql: `SELECT err, msg, result FROM usher_apply_each(NULL::${type}, $1::json)` };
}

/** One decision to apply: its kind, its fields, and its user (batches take users' locks in order). */
export interface ApplyCall<A = unknown> {
  readonly kind: ApplyKind<A>;
  readonly user: string;
  readonly args: A;
}

/**
 * Applies `calls` (of one kind) in one statement, sorted by user so that
 * concurrent batches take users' locks in one order; one outcome per call,
 * in the order given: the apply's result, or its error (with its SQLSTATE as
 * `code`) when it was refused alone.
 */
export async function applyAll(
  db: Queryable,
  kind: ApplyKind<unknown>,
  calls: readonly ApplyCall[],
): Promise<Outcome<unknown>[]> {
  const order = calls.map((_, i) => i).sort((a, b) => compareText(calls[a]!.user, calls[b]!.user));
  const { rows } = await query<{ err: string | null; msg: string | null; result: unknown }>(
    db,
    kind.sql,
    [JSON.stringify(order.map((i) => calls[i]!.args))],
  );
  const outcomes: Outcome<unknown>[] = new Array(calls.length);
  rows.forEach((row, k) => {
    outcomes[order[k]!] =
      row.err === null
        ? { ok: true, value: row.result }
        : {
            ok: false,
            error: Object.assign(new Error(row.msg ?? 'the apply failed'), { code: row.err }),
          };
  });
  return outcomes;
}

type Change<T extends StateChange['type']> = Extract<StateChange, { type: T }>;
type ChangesOf<T extends StateChange['type']> = { readonly [K in T]?: Change<K> };

/**
 * A decision's changes by type, for an apply that carries out exactly these
 * types, each at most once. Anything else is a decision this apply cannot
 * carry out (a fault in the engine, never something to half-apply): it
 * throws. Text PostgreSQL cannot store is refused first (`VALIDATION_FAILED`).
 */
export function changesOf<T extends StateChange['type']>(
  decision: Decision<unknown>,
  types: readonly T[],
): ChangesOf<T> {
  requireStorable(decision.changes);
  const found: Partial<Record<StateChange['type'], StateChange>> = {};
  for (const change of decision.changes) {
    if (!types.includes(change.type as T) || found[change.type])
      throw new Error(
        `a decision of ${decision.changes.map((c) => c.type).join(', ')} is not what this apply carries out (${types.join(', ')})`,
      );
    found[change.type] = change;
  }
  return found as ChangesOf<T>;
}
