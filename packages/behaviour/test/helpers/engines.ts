import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import type { SimulatedClock } from 'xstate';
import {
  createEngine,
  MemoryStore,
  type CatalogInput,
  type Clock,
  type EngineConfig,
  type Store,
  type StoreContents,
  type UsherEngine,
} from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
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
  /**
   * Embedded engine: keep its state in a lowdb folder of its own (a
   * `LowdbStore` in a temporary folder, without fsync) rather than a
   * `MemoryStore`, so that {@link Kit.restart} reopens a folder as a
   * restarted server does. The PostgreSQL engine always has its database.
   */
  readonly onDisk?: boolean;
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
  /** What the engine started last holds durably: its store's contents (an `onDisk` engine is closed first), or its database's tables read as such. */
  durable(): Promise<StoreContents>;
  /**
   * Closes the engine started last and opens a new one on the same durable
   * state (the same store or folder; for PostgreSQL a new engine instance on
   * the same database), with the same clock and configuration: a restart.
   */
  restart(): Promise<UsherEngine>;
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
  const admin = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${server.port}/postgres`,
  });
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
  let current: UsherEngine | undefined;
  let reopen: (() => Promise<UsherEngine>) | undefined;
  const opened = (engine: UsherEngine): UsherEngine => {
    current = engine;
    t.teardown(() => engine.close());
    return engine;
  };
  return {
    kind,
    async start<C extends Clock = SimulatedClock>(
      options: StartOptions<C> = {},
    ): Promise<Started<C>> {
      const clock = (options.clock ?? simulatedClock()) as C;
      const config = options.config ?? {};
      if (kind === 'embedded') {
        let store: Store;
        let open: () => Store;
        if (options.onDisk) {
          const folder = await mkdtemp(join(tmpdir(), 'usher-behaviour-'));
          t.teardown(() => rm(folder, { recursive: true, force: true }));
          open = () => (store = new LowdbStore(folder, { fsync: false }));
        } else {
          const memory = new MemoryStore();
          open = () => (store = memory);
        }
        reopen = async () => createEngine({ clock, store: open(), config });
        durable = async () => {
          if (store instanceof MemoryStore) return (await store.load())!;
          // A folder is read by a store of its own once the engine has let it go: this closes the engine.
          await current?.close();
          const reader = new LowdbStore((store as LowdbStore).directory, { fsync: false });
          try {
            return (await reader.load())!;
          } finally {
            await reader.close();
          }
        };
      } else {
        // A database of its own per engine: tests in a file run concurrently on one server.
        const connectionString = await freshDatabase(server());
        reopen = () => createPostgresEngine({ connectionString, clock, config });
        durable = () => readContents(connectionString);
      }
      const engine = opened(await reopen());
      if (options.catalog !== null) await engine.loadCatalog(options.catalog ?? catalog);
      return { engine, clock };
    },
    durable() {
      if (!durable) throw new Error('kit.durable(): start an engine first');
      return durable();
    },
    async restart() {
      if (!reopen || !current) throw new Error('kit.restart(): start an engine first');
      await current.close();
      return opened(await reopen());
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
  behaviourOn(engineKinds, title, implementation);
}

const noServer = (): PostgresServer => {
  throw new Error('no PostgreSQL server was started for this file');
};

/**
 * As {@link behaviour}, on the engine kinds named only: for what one engine
 * does not have yet (rooms of concerts are the embedded engine's so far,
 * issue 25; the PostgreSQL engine refuses a catalog with them).
 */
export function behaviourOn(
  kinds: readonly EngineKind[],
  title: string,
  implementation: Behaviour,
): void {
  // A file whose behaviours all run on the embedded engine only starts no PostgreSQL server.
  const server = kinds.includes('postgres') ? postgresServer() : noServer;
  for (const kind of kinds) {
    test(`${kind} › ${title}`, (t) => implementation(t, kitFor(kind, t, server)));
  }
}
