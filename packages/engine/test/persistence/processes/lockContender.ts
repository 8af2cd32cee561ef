/**
 * A process that opens a LowdbStore when told to, for the folder-lock race
 * test: `{ open: dir }` → `{ opened: true }` or `{ opened: false, error }`;
 * `{ close: true }` → closes what it opened → `{ closed: true }`.
 */
import { LowdbStore } from '@usher/engine/lowdb';

let store: LowdbStore | undefined;

process.on('message', (message: { open?: string; close?: boolean; append?: string }) => {
  void (async () => {
    if (message.open !== undefined) {
      const candidate = new LowdbStore(message.open, { onWarning: () => undefined });
      try {
        await candidate.load();
        store = candidate;
        process.send!({ opened: true });
      } catch (error) {
        process.send!({ opened: false, error: String(error) });
      }
    } else if (message.append !== undefined) {
      await store!.append([
        ['wallets', message.append, { userId: message.append, balance: 1, charged: 1, paid: 0 }],
      ]);
      process.send!({ appended: message.append });
    } else if (message.close) {
      await store?.close();
      store = undefined;
      process.send!({ closed: true });
    }
  })();
});
process.send!({ ready: true });
