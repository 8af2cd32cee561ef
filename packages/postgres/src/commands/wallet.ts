import type { IdempotencyOptions, Wallet } from '@usher/engine';
import {
  checkCharge,
  decideCharge,
  decideGetBalance,
  requireUserId,
  type Decision,
  type StateChange,
} from '@usher/engine/rules';
import { applyKind, changesOf, type ApplyCall } from '../applies.js';
import type { CommandRunner } from '../CommandRunner.js';
import type { Facts } from '../LineMirror.js';
import { idempotencyRecord, orderedLike, type ViewKind } from '../reads.js';

/** The token's user's stored idempotent answer for the key `q.p1` (pay and charge). */
export const STORED = `(SELECT json_build_object('fingerprint', fingerprint, 'result', result, 'created_at', created_at)
    FROM idempotency_keys WHERE user_id = tk.user_id AND key = q.p1) AS stored`;

/** What reading and charging a wallet read beside the token. */
export const WALLET_VIEWS = {
  balance: { name: 'balance', params: ['text'], columns: `usher_balance(q.p1) AS balance` },
  charge: {
    name: 'charge',
    params: ['text', 'text'],
    columns: `${STORED}, usher_balance(q.p2) AS balance`,
  },
} as const satisfies Record<string, ViewKind>;

const WALLET_KEYS = ['userId', 'balance'];

/** An idempotency key remembered with its answer, as the apply's `key`, `fingerprint`, `result` fields. */
export function keyFields(keyed: Extract<StateChange, { type: 'keyRemembered' }> | undefined) {
  return {
    key: keyed?.record.key ?? null,
    fingerprint: keyed?.record.fingerprint ?? null,
    result: keyed?.record.result ?? null,
  };
}

/** `usher_charge`'s fields (migration 1, `applies.ts`). */
export interface ChargeArgs {
  readonly now: number;
  readonly user_id: string;
  readonly token: string;
  /** The balance the decision read. */
  readonly balance: number;
  readonly amount: number;
  readonly key: string | null;
  readonly fingerprint: string | null;
  readonly result: unknown;
  readonly created_at: number | null;
}
export const CHARGE = applyKind<ChargeArgs>('usher_charge');

/** The apply of a charge decision: the credit and the key it remembers. */
export function chargeApply(
  decision: Decision<unknown>,
  now: number,
  token: string,
  balance: number,
): ApplyCall<ChargeArgs> | undefined {
  const changes = changesOf(decision, ['walletCredited', 'keyRemembered']);
  const credited = changes.walletCredited;
  if (!credited) return undefined;
  const keyed = changes.keyRemembered;
  return {
    kind: CHARGE,
    user: credited.userId,
    args: {
      now,
      user_id: credited.userId,
      token,
      balance,
      amount: credited.amount,
      ...keyFields(keyed),
      created_at: keyed?.record.createdAt ?? null,
    },
  };
}

/** A stored idempotent answer, as the rules take it (keys in the first answer's order). */
export function storedAnswer(
  facts: Facts,
  stored: Record<string, unknown> | null,
  key: string | undefined,
  keys: readonly string[],
) {
  const record =
    key === undefined ? undefined : idempotencyRecord(stored, facts.token?.userId ?? '', key);
  return (
    record && { ...record, result: orderedLike(keys, record.result as Record<string, unknown>) }
  );
}

export function getBalance(runner: CommandRunner, token: string, userId: string): Promise<Wallet> {
  return runner.run(async (now) => {
    requireUserId(userId);
    const { facts, row } = await runner.view<{ balance: string }>(
      token,
      now,
      WALLET_VIEWS.balance,
      [userId],
    );
    return decideGetBalance(
      { ...facts, balance: Number(row.balance) },
      userId,
      now,
      runner.lifecycles,
    );
  });
}

export function charge(
  runner: CommandRunner,
  token: string,
  wallet: { readonly userId: string; readonly amount: number },
  options: IdempotencyOptions = {},
): Promise<Wallet> {
  return runner.run(async (now) => {
    const command = checkCharge(
      { userId: wallet?.userId, amount: wallet?.amount, idempotencyKey: options.idempotencyKey },
      runner.config,
    );
    const { answer } = await runner.decide('charge', now, undefined, async (db) => {
      const read = await runner.read<{ stored: Record<string, unknown> | null; balance: string }>(
        token,
        now,
        WALLET_VIEWS.charge,
        [command.idempotencyKey ?? '', command.userId],
        db,
      );
      if (read === 'again') return read;
      const { facts, row } = read;
      const view = {
        ...facts,
        stored: storedAnswer(facts, row.stored, command.idempotencyKey, WALLET_KEYS),
        balance: Number(row.balance),
      };
      const decision = decideCharge(view, command, now, runner.config, runner.lifecycles);
      const apply = chargeApply(decision, now, facts.token?.token ?? '', view.balance);
      return apply ? { decision, apply } : { decision };
    });
    return answer;
  });
}
