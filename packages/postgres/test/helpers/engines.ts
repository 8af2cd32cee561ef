import type { ExecutionContext } from 'ava';
import type { SimulatedClock } from 'xstate';
import type { CatalogInput, EngineConfig } from '@usher/engine';
import { catalog, manual, simulatedClock } from '@usher/testkit';
import { createPostgresEngine, type PostgresEngine } from '@usher/postgres';

/** The behaviour tests' fixture, shared through @usher/testkit. */
export {
  activeToken,
  catalog,
  manual,
  rejects,
  settle,
  simulatedClock,
  START,
} from '@usher/testkit';

export interface Opened {
  readonly engine: PostgresEngine;
  readonly clock: SimulatedClock;
}

/**
 * An engine over the database at `url` on a simulated clock at {@link START}
 * (or the given one), closed when the test ends; the test catalog is loaded
 * unless `catalog: null`.
 */
export async function openEngine(
  t: ExecutionContext,
  url: string,
  options: {
    config?: Partial<EngineConfig>;
    clock?: SimulatedClock;
    catalog?: CatalogInput | null;
    keeper?: boolean;
  } = {},
): Promise<Opened> {
  const clock = options.clock ?? simulatedClock();
  const engine = await createPostgresEngine({
    connectionString: url,
    clock,
    config: options.config ?? manual,
    keeper: options.keeper ?? true,
  });
  t.teardown(() => engine.close());
  if (options.catalog !== null) await engine.loadCatalog(options.catalog ?? catalog);
  return { engine, clock };
}
