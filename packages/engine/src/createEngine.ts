import { systemClock, type Clock } from './clock.js';
import { resolveConfig, type EngineConfig } from './config.js';
import { Engine } from './Engine.js';
import { ChangeSet } from './persistence/ChangeSet.js';
import { MemoryStore } from './persistence/MemoryStore.js';
import type { Store } from './persistence/Store.js';
import { Supervisor } from './supervisor/Supervisor.js';

export interface EngineOptions {
  /** Where time comes from. Default: the wall clock. Tests pass XState's `SimulatedClock`. */
  readonly clock?: Clock;
  /** Where state is kept. Default: a {@link MemoryStore} (nothing survives the process). */
  readonly store?: Store;
  /** Tunables; see {@link EngineConfig} for defaults. */
  readonly config?: Partial<EngineConfig>;
}

/**
 * Opens a store, restores everything it holds, re-arms every deadline from the
 * stored absolute times (expiring at once what passed while the process was
 * down), and starts the engine's timers.
 *
 * @example
 * ```ts
 * import { createEngine } from '@usher/engine';
 *
 * const engine = await createEngine({ config: { queueMaxActive: 500 } });
 * await engine.loadCatalog({
 *   concerts: [{ id: 'c1', title: 'Spring Concert' }],
 *   schedules: [{ id: 's1', concertId: 'c1', startsAt: '2027-05-01T19:00:00+09:00', totalSeats: 50, price: 99_000 }],
 * });
 * const { token } = await engine.issueToken('ann');
 * const hold = await engine.reserve(token.token, { scheduleId: 's1', seatNo: 7 });
 * await engine.charge(token.token, { userId: 'ann', amount: 100_000 });
 * await engine.pay(token.token, { reservationId: hold.id });
 * await engine.close();
 * ```
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const config = resolveConfig(options.config);
  const clock = options.clock ?? systemClock;
  const store = options.store ?? new MemoryStore();
  const supervisor = new Supervisor(config);
  const contents = await store.load();
  if (contents) {
    const tx = new ChangeSet();
    supervisor.restore(contents, clock.now(), tx);
    if (tx.size > 0) await store.append(tx.changes);
  }
  return new Engine({ config, clock, store, supervisor });
}
