import { EngineError, type EngineErrorCode, type EngineObserver, type Room, type RoomSettings, type UsherEngine } from '@usher/engine';

/**
 * TEST DOUBLE, for the HTTP side of issue 12 while the engine side is built in
 * parallel: a real embedded engine whose `room()`, `updateRoom()` and
 * `observe()` (stubs in the engine until then) are done here in memory. The
 * room's settings only live here and do not steer admission: the HTTP tests
 * check the routes, the validation, the audit log and the metrics, not what
 * the engine does with a setting (that is the behaviour suite's job). Once
 * the engine side is merged, the tests that use {@link withRoom} run on the
 * engine itself (see the report of the branch).
 */
export interface RoomDouble extends UsherEngine {
  /** How often `updateRoom` was called and accepted. */
  readonly updates: number;
}

export function withRoom(engine: UsherEngine, options: { refuse?: (patch: Partial<RoomSettings>) => string | undefined } = {}): RoomDouble {
  let settings: RoomSettings = {
    paused: false,
    admitPerTick: engine.config.queueAdmitPerTick,
    maxActive: engine.config.queueMaxActive,
    opensAt: null,
    shuffle: true,
  };
  let admittedTotal = 0;
  let updates = 0;
  const observers = new Set<EngineObserver>();
  const room = async (): Promise<Room> => {
    const stats = await engine.stats();
    return { ...settings, waiting: stats.waitingTokens, active: stats.activeTokens, admittedTotal, soldOut: false };
  };
  const own: Partial<Record<keyof RoomDouble, unknown>> = {
    room,
    async updateRoom(patch: Partial<RoomSettings>) {
      const refusal = options.refuse?.(patch);
      if (refusal !== undefined) throw new EngineError('INVALID_ARGUMENT' as EngineErrorCode, refusal);
      const before = await room();
      settings = { ...settings, ...patch };
      updates++;
      return { before, room: await room() };
    },
    observe(observer: EngineObserver) {
      observers.add(observer);
      return () => observers.delete(observer);
    },
    async tick() {
      const started = performance.now();
      const report = await engine.tick();
      admittedTotal += report.admitted;
      for (const observer of observers) observer.tick?.({ durationMs: performance.now() - started, admitted: report.admitted });
      return report;
    },
    async issueToken(userId: string) {
      const started = performance.now();
      const issued = await engine.issueToken(userId);
      if (issued.created && issued.token.status === 'active') admittedTotal++;
      for (const observer of observers) observer.commit?.({ command: 'issueToken', durationMs: performance.now() - started });
      return issued;
    },
  };
  return new Proxy(engine as RoomDouble, {
    get(target, property) {
      if (property === 'updates') return updates;
      if (Object.hasOwn(own, property)) return own[property as keyof RoomDouble];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    has: (target, property) => property === 'updates' || Object.hasOwn(own, property) || Reflect.has(target, property),
    set: () => false,
  });
}
