import type { ExecutionContext } from 'ava';
import { SimulatedClock } from 'xstate';
import {
  EngineError,
  type CatalogInput,
  type EngineErrorCode,
  type UsherEngine,
} from '@usher/engine';

/** 2026-11-24T00:00:00Z: tests start on a fixed, realistic date. */
export const START = Date.UTC(2026, 10, 24);

/** Timers far apart, so a test decides when the scheduler runs. */
export const manual = { queueTickMs: 3_600_000, holdSweepMs: 3_600_000 };

export const catalog: CatalogInput = {
  concerts: [
    { id: 'c1', title: 'Spring Concert', artist: 'IU', venue: 'Olympic Hall' },
    { id: 'c2', title: 'Autumn Concert' },
  ],
  schedules: [
    {
      id: 's1',
      concertId: 'c1',
      startsAt: '2027-05-01T19:00:00+09:00',
      totalSeats: 10,
      price: 1_000,
    },
    {
      id: 's2',
      concertId: 'c1',
      startsAt: '2027-04-30T19:00:00+09:00',
      totalSeats: 5,
      prices: [
        { from: 1, to: 2, price: 3_000 },
        { from: 3, to: 5, price: 2_000 },
      ],
    },
    { id: 's3', concertId: 'c2', startsAt: '2027-10-01T19:00:00+09:00', totalSeats: 1, price: 500 },
  ],
};

export function simulatedClock(at = START): SimulatedClock {
  const clock = new SimulatedClock();
  clock.set(at);
  return clock;
}

/** Issues a token for `userId` and runs ticks until it is active; returns the token string. */
export async function activeToken(engine: UsherEngine, userId: string): Promise<string> {
  const { token } = await engine.issueToken(userId);
  for (
    let status = token.status;
    status === 'waiting';
    status = (await engine.getToken(token.token)).status
  ) {
    const report = await engine.tick();
    if (report.admitted === 0 && report.active >= engine.config.queueMaxActive)
      throw new Error('no room to admit');
  }
  return token.token;
}

/** Asserts that `promise` rejects with an {@link EngineError} of `code`; returns the error. */
export async function rejects(
  t: ExecutionContext,
  promise: Promise<unknown>,
  code: EngineErrorCode,
): Promise<EngineError> {
  const error = await t.throwsAsync(promise, { instanceOf: EngineError });
  t.is(error?.code, code, error?.message);
  return error as EngineError;
}

/** An answer, or the code of a refusal: for counting outcomes of commands run at once. */
export function settle<T>(promise: Promise<T>) {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => {
      if (!(error instanceof EngineError)) throw error;
      return { ok: false as const, code: error.code };
    },
  );
}
