import type { ChangeSet } from '../persistence/ChangeSet.js';
import type { PaymentRecord, WalletRecord } from '../persistence/records.js';

/**
 * Wallets and payments. Every wallet carries its running totals, so invariant
 * 2 (`balance = Σ charges − Σ payments + Σ refunds`, never negative) is checkable per user.
 * Callers check limits first; these methods only apply.
 */
export class Ledger {
  readonly #wallets = new Map<string, WalletRecord>();
  readonly #payments = new Map<string, PaymentRecord>();

  get walletCount(): number {
    return this.#wallets.size;
  }

  get paymentCount(): number {
    return this.#payments.size;
  }

  balanceOf(userId: string): number {
    return this.#wallets.get(userId)?.balance ?? 0;
  }

  credit(userId: string, amount: number, tx: ChangeSet): WalletRecord {
    let wallet = this.#wallets.get(userId);
    if (!wallet) this.#wallets.set(userId, (wallet = { userId, balance: 0, charged: 0, paid: 0 }));
    wallet.balance += amount;
    wallet.charged += amount;
    tx.put('wallets', userId, wallet);
    return wallet;
  }

  /** Debits the wallet by a payment the rules decided (the balance covers it), and records the payment. */
  pay(payment: PaymentRecord, tx: ChangeSet): void {
    const { userId, amount } = payment;
    const wallet = this.#wallets.get(userId)!;
    wallet.balance -= amount;
    wallet.paid += amount;
    if (wallet.balance !== payment.balance)
      throw new Error(
        `payment ${payment.id} expected a balance of ${payment.balance}, got ${wallet.balance}`,
      );
    this.#payments.set(payment.id, payment);
    tx.put('wallets', userId, wallet);
    tx.put('payments', payment.id, payment);
  }

  /** Credits a refund the rules decided (SPEC §11): `balance` and `refunded` grow by `amount`. */
  refund(userId: string, amount: number, tx: ChangeSet): void {
    let wallet = this.#wallets.get(userId);
    if (!wallet) this.#wallets.set(userId, (wallet = { userId, balance: 0, charged: 0, paid: 0 }));
    wallet.balance += amount;
    wallet.refunded = (wallet.refunded ?? 0) + amount;
    tx.put('wallets', userId, wallet);
  }

  restore(wallets: Iterable<WalletRecord>, payments: Iterable<PaymentRecord>): void {
    for (const wallet of wallets) this.#wallets.set(wallet.userId, wallet);
    for (const payment of payments) this.#payments.set(payment.id, payment);
  }
}
