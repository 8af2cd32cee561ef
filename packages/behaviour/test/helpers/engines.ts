import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import type { SimulatedClock } from 'xstate';
import { createEngine, MemoryStore, type CatalogInput, type Clock, type EngineConfig, type StoreContents, type UsherEngine } from '@usher/engine';
import { createPostgresEngine, migrate, readContents } from '@usher/postgres';
import { catalog, simulatedClock } from '@usher/testkit';

import { createDatabase, usePostgres, type PostgresServer } from '@usher/testkit';

export type EngineKind = 'embedded' | 'postgres';

/** Every engine the behaviour suite runs against. */
export const engineKinds: readonly EngineKind[] = ['embedded', 'postgres'];

export interface StartOptions<C extends Clock> {
  /** Default `{}`: the engine's defaults. */
  readonly config?: Partial<EngineConfig>;
  /** Default: a `SimulatedClock` at `START`. */
  readonly clock?: C;
  /** Default: the fixture's catalog; `null` loads none. */
  readonly catalog?: CatalogInput | null;
}

export interface Started<C extends Clock> {
  readonly engine: UsherEngine;
  readonly clock: C;
}

/** What a behaviour test gets besides `t`: how to start the engine under test and read what it made durable. */
export interface Kit {
  readonly kind: EngineKind;
  /** Starts an engine of this kind on fresh, empty state; it is closed when the test ends. */
  start<C extends Clock = SimulatedClock>(options?: StartOptions<C>): Promise<Started<C>>;
  /** What the engine started last holds durably: its store's contents, or its database's tables read as such. */
  durable(): Promise<StoreContents>;
}

export type Behaviour = (t: ExecutionContext, kit: Kit) => Promise<void> | void;

/**
 * The file's server skips fsync: no test here crashes PostgreSQL (the crash and
 * failover tests live in packages/postgres/test, on servers that keep
 * PostgreSQL's durability), and a commit that waits for no disk keeps a file's
 * many engines fast. Rules, constraints and isolation are unchanged.
 */
const serverSettings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

const TEMPLATE = 'behaviour_template';

let postgres: (() => PostgresServer) | undefined;
let template: Promise<void> | undefined;

/** One PostgreSQL server for the whole test file, started before its first test (registered on first use). */
function postgresServer(): () => PostgresServer {
  postgres ??= usePostgres(test, { settings: serverSettings });
  return postgres;
}

/**
 * A database of its own for one engine, with the schema migrated; returns its
 * connection string. It is a copy of a database migrated once per file (a copy
 * costs what an empty database costs, and the engine's start then finds every
 * migration applied); the migrations themselves are tested in
 * packages/postgres/test.
 */
async function freshDatabase(server: PostgresServer): Promise<string> {
  template ??= (async () => {
    const pool = new pg.Pool({ connectionString: await createDatabase(server, TEMPLATE), max: 1 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
  })();
  await template;
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${server.port}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  } finally {
    await admin.end();
  }
  return `postgres://postgres@127.0.0.1:${server.port}/${name}`;
}

function kitFor(kind: EngineKind, t: ExecutionContext, server: () => PostgresServer): Kit {
  let durable: (() => Promise<StoreContents>) | undefined;
  return {
    kind,
    async start<C extends Clock = SimulatedClock>(options: StartOptions<C> = {}): Promise<Started<C>> {
      const clock = (options.clock ?? simulatedClock()) as C;
      const config = options.config ?? {};
      let engine: UsherEngine;
      if (kind === 'embedded') {
        const store = new MemoryStore();
        engine = await createEngine({ clock, store, config });
        durable = async () => (await store.load())!;
      } else {
        // A database of its own per engine: tests in a file run concurrently on one server.
        const connectionString = await freshDatabase(server());
        engine = await createPostgresEngine({ connectionString, clock, config });
        durable = () => readContents(connectionString);
      }
      t.teardown(() => engine.close());
      if (options.catalog !== null) await engine.loadCatalog(options.catalog ?? catalog);
      return { engine, clock };
    },
    durable() {
      if (!durable) throw new Error('kit.durable(): start an engine first');
      return durable();
    },
  };
}

/**
 * Declares one test per engine kind, titled `embedded › <title>` and
 * `postgres › <title>`: the same source, asserting the same things, against
 * the embedded engine (a `MemoryStore`) and the PostgreSQL engine (a fresh
 * database on the file's own server). Like ava's tests, they run concurrently.
 *
 * @example
 * ```ts
 * behaviour('a held seat cannot be held again', async (t, kit) => {
 *   const { engine } = await kit.start({ config: manual });
 *   // …
 *   assertInvariants(t, await kit.durable());
 * });
 * ```
 */
export function behaviour(title: string, implementation: Behaviour): void {
  const server = postgresServer();
  for (const kind of engineKinds) {
    test(`${kind} › ${title}`, (t) => implementation(t, kitFor(kind, t, server)));
  }
}
