import { existsSync } from 'node:fs';
import test from 'ava';
import pg from 'pg';
import { createDatabase, startPostgres, usePostgres } from '@usher/testkit';

const server = usePostgres(test, { settings: { statement_timeout: '5s' } });

async function withClient<T>(
  connectionString: string,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function show(connectionString: string, setting: string): Promise<string> {
  return withClient(connectionString, async (client) => {
    const result = await client.query<Record<string, string>>(`SHOW ${setting}`);
    return result.rows[0]?.[setting] ?? '';
  });
}

test('the server answers SELECT 1 in the database usher, on loopback', async (t) => {
  const { connectionString, port } = server();
  t.is(connectionString, `postgres://postgres@127.0.0.1:${port}/usher`);
  await withClient(connectionString, async (client) => {
    const result = await client.query<{ one: number; db: string; addr: string }>(
      'SELECT 1 AS one, current_database() AS db, host(inet_server_addr()) AS addr',
    );
    t.deepEqual(result.rows, [{ one: 1, db: 'usher', addr: '127.0.0.1' }]);
  });
});

test('durability is as PostgreSQL ships it, with the harness defaults and the settings passed', async (t) => {
  const url = server().connectionString;
  t.is(await show(url, 'synchronous_commit'), 'on');
  t.is(await show(url, 'fsync'), 'on');
  t.is(await show(url, 'listen_addresses'), '127.0.0.1');
  t.is(await show(url, 'max_connections'), '200');
  t.is(await show(url, 'statement_timeout'), '5s');
});

test('each createDatabase is a fresh database of its own', async (t) => {
  const first = await createDatabase(server());
  const second = await createDatabase(server(), 'isolation_second');
  t.not(first, second);
  t.true(second.endsWith('/isolation_second'));

  await withClient(first, async (client) => {
    await client.query('CREATE TABLE seats (id text PRIMARY KEY)');
    await client.query("INSERT INTO seats VALUES ('A1')");
  });
  await withClient(second, async (client) => {
    const result = await client.query<{ table: string | null }>(
      "SELECT to_regclass('seats')::text AS table",
    );
    t.is(result.rows[0]?.table, null);
  });
  await withClient(server().connectionString, async (client) => {
    const result = await client.query<{ table: string | null }>(
      "SELECT to_regclass('seats')::text AS table",
    );
    t.is(result.rows[0]?.table, null);
  });
  await t.throwsAsync(createDatabase(server(), 'Not-An-Identifier'), {
    message: /not a plain lower-case identifier/,
  });
});

test('a committed row survives a crash; a stopped server refuses connections; remove deletes the folder', async (t) => {
  // Its own server: stopping the shared one would break the tests running beside this one.
  const own = await startPostgres();
  t.teardown(() => own.remove());
  t.not(own.port, server().port);

  await withClient(own.connectionString, async (client) => {
    await client.query('CREATE TABLE payments (id text PRIMARY KEY, amount int NOT NULL)');
    await client.query("INSERT INTO payments VALUES ('p1', 1000)");
  });

  await own.stop('immediate');
  const refused = await t.throwsAsync(withClient(own.connectionString, async () => {}));
  t.is((refused as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');

  await own.start();
  await withClient(own.connectionString, async (client) => {
    const result = await client.query<{ id: string; amount: number }>(
      'SELECT id, amount FROM payments',
    );
    t.deepEqual(result.rows, [{ id: 'p1', amount: 1000 }]);
  });

  await own.stop('fast');
  await own.start();
  t.is(await show(own.connectionString, 'synchronous_commit'), 'on');

  await own.remove();
  t.false(existsSync(own.dataDir));
  const afterRemove = await t.throwsAsync(withClient(own.connectionString, async () => {}));
  t.is((afterRemove as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
});
