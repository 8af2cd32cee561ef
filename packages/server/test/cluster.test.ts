import test, { type ExecutionContext } from 'ava';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { invariantViolations } from '@usher/engine';
import { LOCKS, readContents } from '@usher/postgres';
import { createDatabase, usePostgres } from '@usher/testkit';
import {
  client,
  eventually,
  runServerProcess,
  startServerProcess,
  type ServerProcess,
} from './helpers/serverProcess.js';

/**
 * SPEC §8 with real processes: server processes (each `WORKERS=1` or `2`,
 * as on several machines) over one real PostgreSQL, killed with SIGKILL, the
 * database crashed with `pg_ctl -m immediate`. The database is checked
 * afterwards with the same invariants as the embedded store.
 */
const postgres = usePostgres(test);

interface Cluster {
  readonly url: string;
  readonly db: pg.Client;
  /** Starts a server process (a gateway, or WORKERS of them) on this database. */
  gateway(env?: Record<string, string>): Promise<ServerProcess>;
}

async function cluster(t: ExecutionContext): Promise<Cluster> {
  const url = await createDatabase(postgres());
  const db = new pg.Client({ connectionString: url });
  // The database is crashed on purpose in one test: its connection's error is expected.
  db.on('error', () => undefined);
  await db.connect();
  t.teardown(() => db.end().catch(() => undefined));
  return {
    url,
    db,
    gateway: async (env = {}) => {
      const server = await startServerProcess({
        DATABASE_URL: url,
        QUEUE_TICK_MS: '100',
        LOG_LEVEL: 'info',
        MAX_CONNECTIONS_PER_ADDRESS: '0',
        TOKEN_RATE_PER_MINUTE: '0',
        ...env,
      });
      t.teardown(async () => {
        if (server.process.exitCode === null && server.process.signalCode === null)
          server.process.kill('SIGKILL');
        await server.exited;
      });
      return server;
    },
  };
}

/**
 * A gateway started on `url` while its database is down: the 503 it answers
 * meanwhile (it listens first) to `GET /ready` with `headers`, then the server
 * once the database is back.
 */
async function startedBeforeItsDatabase(
  t: ExecutionContext,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ waiting: Awaited<ReturnType<ReturnType<typeof client>>>; server: ServerProcess }> {
  await postgres().stop('fast');
  const port = await freePort();
  const started = startServerProcess({
    DATABASE_URL: url,
    LOG_LEVEL: 'info',
    QUEUE_TICK_MS: '100',
    PORT: String(port),
  });
  const api = client(`http://127.0.0.1:${port}`);
  const waiting = await eventually(
    async () => {
      const answer = await api('GET', '/ready', { headers }).catch(() => undefined);
      return answer?.status === 503 ? answer : undefined;
    },
    15_000,
    'a 503 while starting',
  );
  await postgres().start();
  const server = await started;
  t.teardown(() => {
    server.process.kill('SIGKILL');
  });
  return { waiting, server };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function assertInvariants(t: ExecutionContext, url: string): Promise<void> {
  t.deepEqual(
    invariantViolations(await readContents(url)),
    [],
    'the database keeps every invariant',
  );
}

/** Issues tokens for `users` through `api` and waits until every one is active. */
async function activeTokens(
  api: ReturnType<typeof client>,
  users: readonly string[],
): Promise<string[]> {
  const tokens = await Promise.all(
    users.map(
      async (userId) =>
        (await api('POST', '/queue/tokens', { body: { userId } })).body.token as string,
    ),
  );
  await eventually(
    async () => {
      const views = await Promise.all(
        tokens.map((token) => api('GET', '/queue/tokens/current', { token })),
      );
      return views.every((view) => view.body.status === 'active') ? true : undefined;
    },
    20_000,
    'every token to be active',
  );
  return tokens;
}

/** The pid of the process whose engine holds the keeper's seat now (from PostgreSQL's own view of its locks). */
async function keeperPid(db: pg.Client): Promise<number | undefined> {
  const { rows } = await db.query<{ application_name: string }>(
    `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.granted`,
    [LOCKS.usher, LOCKS.keeper],
  );
  const match = /^usher-gateway-(\d+)$/.exec(rows[0]?.application_name ?? '');
  return match ? Number(match[1]) : undefined;
}

/** Pids of a server process and its cluster workers, from the workers' log lines. */
function pidsOf(server: ServerProcess): number[] {
  return [
    server.process.pid!,
    ...server.logs.flatMap((entry) => (entry.msg === 'worker ready' ? [entry.pid as number] : [])),
  ];
}

test.serial(
  'WORKERS=2 on PostgreSQL: four gateways starting at once load the demo catalog once, and all of them serve it',
  async (t) => {
    const { url, gateway } = await cluster(t);
    // With the limit on joining on (its counters in the database: four gateways create its table at once).
    const limits = { WORKERS: '2', TOKEN_RATE_PER_MINUTE: '60' };
    const [a, b] = await Promise.all([gateway(limits), gateway(limits)]);
    const loads = [...a.logs, ...b.logs].filter(
      (entry) => String(entry.msg).startsWith('catalog') || entry.msg === 'state restored',
    );
    t.is(loads.length, 4, 'each gateway looked');
    t.is(
      loads.reduce((sum, entry) => sum + ((entry.concertsAdded as number | undefined) ?? 0), 0),
      3,
      'the three demo concerts were added once in all',
    );
    const contents = await readContents(url);
    t.is(contents.concerts.size, 3);
    t.is(contents.schedules.size, 7);
    for (const server of [a, b]) {
      const api = client(server.url);
      const [token] = (await activeTokens(api, [`visitor-${server.process.pid}`])) as [string];
      const concerts = await api('GET', '/concerts', { token });
      t.is(concerts.status, 200);
      t.is((concerts.body.concerts as unknown[]).length, 3);
      t.deepEqual((await api('GET', '/ready')).body, { status: 'ready' });
    }
    a.process.kill('SIGTERM');
    b.process.kill('SIGTERM');
    t.deepEqual(
      await Promise.all([a.exited, b.exited]),
      [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ],
      'SIGTERM drains every worker, exit 0',
    );
  },
);

test.serial(
  '200 users racing for one seat through two gateways: exactly one 201, everyone else 409 SEAT_UNAVAILABLE',
  async (t) => {
    const { url, gateway } = await cluster(t);
    const gateways = await Promise.all([gateway(), gateway()]);
    const apis = gateways.map((server) => client(server.url));
    const users = Array.from({ length: 200 }, (_, i) => `racer-${i}`);
    const tokens = await Promise.all(
      [0, 1].map((side) =>
        activeTokens(
          apis[side]!,
          users.filter((_, i) => i % 2 === side),
        ),
      ),
    );
    const schedule = (
      await apis[0]!('GET', '/concerts/iu-golden-hour/schedules', { token: tokens[0]![0]! })
    ).body.schedules[0].id as string;
    const answers = await Promise.all(
      [0, 1].flatMap((side) =>
        tokens[side]!.map((token) =>
          apis[side]!('POST', '/reservations', {
            token,
            body: { scheduleId: schedule, seatNo: 7 },
          }),
        ),
      ),
    );
    const statuses = answers.map((answer) =>
      answer.status === 201 ? '201' : `${answer.status} ${answer.body.code}`,
    );
    t.is(statuses.filter((status) => status === '201').length, 1, 'one hold');
    t.is(
      statuses.filter((status) => status === '409 SEAT_UNAVAILABLE').length,
      199,
      statuses.filter((status) => status !== '201' && status !== '409 SEAT_UNAVAILABLE').join(', '),
    );
    const contents = await readContents(url);
    t.is(
      [...contents.reservations.values()].filter(
        (reservation) => reservation.scheduleId === schedule && reservation.seatNo === 7,
      ).length,
      1,
    );
    await assertInvariants(t, url);
  },
);

test.serial(
  'SIGKILL of one gateway during a burst of charges: every 200 is durable, and the other gateway keeps serving',
  async (t) => {
    const { url, gateway } = await cluster(t);
    const [doomed, survivor] = await Promise.all([gateway(), gateway()]);
    const apis = [client(doomed.url), client(survivor.url)];
    const users = Array.from({ length: 20 }, (_, i) => `payer-${i}`);
    const tokens = await activeTokens(apis[1]!, users);
    // 600 charges of 1..600 won, each with its own key, alternating gateways; the first gateway dies a third of the way in.
    const charges = Array.from({ length: 600 }, (_, i) => ({
      user: i % 20,
      amount: i + 1,
      key: `charge-${i}`,
      via: i % 2,
    }));
    const answered = new Map<string, number>();
    const failedVia = [0, 0];
    let sent = 0;
    const send = async (charge: (typeof charges)[number]) => {
      sent++;
      if (sent === 200) doomed.process.kill('SIGKILL');
      try {
        const answer = await apis[charge.via]!(
          'POST',
          `/users/${users[charge.user]}/balance/charge`,
          {
            token: tokens[charge.user]!,
            body: { amount: charge.amount },
            headers: { 'idempotency-key': charge.key },
          },
        );
        if (answer.status === 200) answered.set(charge.key, charge.amount);
        else failedVia[charge.via]!++;
      } catch {
        failedVia[charge.via]!++;
      }
    };
    // 20 in flight at a time.
    const queue = [...charges];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let charge = queue.shift(); charge; charge = queue.shift()) await send(charge);
      }),
    );
    t.is((await doomed.exited).signal, 'SIGKILL');
    t.is(failedVia[1], 0, 'the surviving gateway answered every charge sent to it');
    t.true(failedVia[0]! > 0, 'some charges to the killed gateway got no answer');
    // Every 200 is in the database; every unanswered charge, sent again with its key to the survivor, is applied at most once.
    const before = await readContents(url);
    for (const [key] of answered)
      t.true(
        [...before.idempotency.values()].some((stored) => stored.key === key),
        `charge ${key} answered 200 is durable`,
      );
    for (const charge of charges.filter((charge) => !answered.has(charge.key))) {
      const again = await apis[1]!('POST', `/users/${users[charge.user]}/balance/charge`, {
        token: tokens[charge.user]!,
        body: { amount: charge.amount },
        headers: { 'idempotency-key': charge.key },
      });
      t.is(again.status, 200);
    }
    const after = await readContents(url);
    for (const [i, user] of users.entries()) {
      const expected = charges
        .filter((charge) => charge.user === i)
        .reduce((sum, charge) => sum + charge.amount, 0);
      t.is(
        after.wallets.get(user)?.charged,
        expected,
        `${user}: every charge applied exactly once`,
      );
    }
    await assertInvariants(t, url);
  },
);

test.serial(
  "SIGKILL of the keeper's process: admission goes on within two ticks on another gateway, maxActive is never exceeded, holds still expire",
  async (t) => {
    const { url, db, gateway } = await cluster(t);
    const env = {
      QUEUE_TICK_MS: '200',
      QUEUE_ADMIT_PER_TICK: '2',
      QUEUE_MAX_ACTIVE: '10',
      TOKEN_ACTIVE_TTL_MS: '1500',
      HOLD_TTL_MS: '1500',
      HOLD_SWEEP_MS: '500',
    };
    const gateways = [await gateway(env), await gateway({ ...env, WORKERS: '2' })];
    const keeper = await eventually(async () => keeperPid(db), 10_000, 'a keeper');
    const owner = gateways.find((server) => pidsOf(server).includes(keeper))!;
    const other = gateways.find((server) => server !== owner)!;
    t.truthy(owner, 'the keeper is one of the gateways');
    const api = client(other.url);
    // A hold made before the keeper dies must still expire on time.
    const [holder] = (await activeTokens(api, ['holder'])) as [string];
    const schedule = (await api('GET', '/concerts/iu-golden-hour/schedules', { token: holder }))
      .body.schedules[0].id as string;
    const hold = await api('POST', '/reservations', {
      token: holder,
      body: { scheduleId: schedule, seatNo: 1 },
    });
    t.is(hold.status, 201);
    const users = Array.from({ length: 60 }, (_, i) => `fan-${i}`);
    for (const userId of users)
      t.is((await api('POST', '/queue/tokens', { body: { userId } })).status, 201);

    let maxSeen = 0;
    let watching = true;
    t.teardown(() => {
      watching = false;
    });
    const watch = (async () => {
      while (watching) {
        const { rows } = await db.query<{ active: string }>(
          'SELECT count(*) AS active FROM tokens t WHERE usher_token_active(t, $1)',
          [Date.now()],
        );
        maxSeen = Math.max(maxSeen, Number(rows[0]!.active));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // Tokens that left the line (expired ones are deleted after a while, so counted as those no longer waiting).
    const admitted = async () =>
      users.length -
      Number(
        (await db.query<{ n: string }>("SELECT count(*) AS n FROM tokens WHERE status = 'waiting'"))
          .rows[0]!.n,
      );
    // Admissions under way, then the keeper's whole process dies.
    await eventually(
      async () => ((await admitted()) >= 6 ? true : undefined),
      10_000,
      'six admissions',
    );
    if (owner.process.pid === keeper) owner.process.kill('SIGKILL');
    else process.kill(keeper, 'SIGKILL');
    const killedAt = Date.now();
    const atKill = await admitted();
    const takenOver = await eventually(
      async () => {
        const pid = await keeperPid(db);
        return pid !== undefined && pid !== keeper ? pid : undefined;
      },
      10_000,
      'another keeper',
    );
    await eventually(
      async () => ((await admitted()) > atKill ? true : undefined),
      10_000,
      'an admission after the kill',
    );
    const resumedMs = Date.now() - killedAt;
    t.log(
      `keeper ${keeper} killed; ${takenOver} took over; admission resumed ${resumedMs} ms later (ticks of 200 ms)`,
    );
    t.true(
      resumedMs < 2 * 200 + 2_000,
      `admission resumed within two ticks (and scheduling slack on a loaded machine): ${resumedMs} ms`,
    );
    // The hold expires on time without its gateway doing anything: the new keeper's sweep (every 500 ms) marks it expired.
    const deadline = Date.parse(hold.body.expiresAt as string);
    const reservation = await eventually(
      async () => {
        const contents = await readContents(url);
        const found = contents.reservations.get(hold.body.id as string);
        return found?.status === 'expired' ? found : undefined;
      },
      20_000,
      'the hold to be marked expired',
    );
    const lateMs = Date.now() - deadline;
    t.log(`the hold was marked expired ${lateMs} ms after its deadline (sweep every 500 ms)`);
    t.is(reservation.status, 'expired');
    // Two sweeps, and slack for a loaded machine (the rules already treat a hold past its deadline as gone, whoever sweeps).
    t.true(lateMs < 2 * 500 + 10_000, `marked expired ${lateMs} ms after its deadline`);
    await eventually(
      async () => ((await admitted()) === users.length ? true : undefined),
      30_000,
      'everyone admitted',
    );
    watching = false;
    await watch;
    t.true(maxSeen <= 10, `maxActive 10 never exceeded (at most ${maxSeen} seen)`);
    await assertInvariants(t, url);
  },
);

test.serial(
  'pg_ctl -m immediate under load: 503 UNAVAILABLE with Retry-After while it is down, no acknowledged charge lost, recovery by itself',
  async (t) => {
    const { url, gateway } = await cluster(t);
    const server = await gateway({ WORKERS: '2' });
    const api = client(server.url);
    const users = Array.from({ length: 10 }, (_, i) => `steady-${i}`);
    const tokens = await activeTokens(api, users);
    const acknowledged = new Map<string, number>();
    const refusals = new Map<string, number>();
    let retryAfter: string | null = null;
    let running = true;
    let n = 0;
    const load = Promise.all(
      users.map(async (userId, u) => {
        while (running) {
          const key = `k-${n++}`;
          const response = await fetch(`${server.url}/users/${userId}/balance/charge`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${tokens[u]}`,
              'idempotency-key': key,
            },
            body: JSON.stringify({ amount: 1 }),
          }).catch(() => undefined);
          if (response === undefined) continue;
          const body = (await response.json()) as { code?: string };
          if (response.status === 200) acknowledged.set(key, u);
          else {
            refusals.set(
              `${response.status} ${body.code}`,
              (refusals.get(`${response.status} ${body.code}`) ?? 0) + 1,
            );
            if (response.status === 503) retryAfter = response.headers.get('retry-after');
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      }),
    );
    await eventually(async () => (acknowledged.size >= 100 ? true : undefined), 10_000);
    await postgres().stop('immediate');
    const downAt = acknowledged.size;
    const ready = await eventually(async () => {
      const answer = await api('GET', '/ready');
      return answer.status === 503 ? answer : undefined;
    });
    t.is(ready.body.code, 'UNAVAILABLE');
    await eventually(
      async () => ((refusals.get('503 UNAVAILABLE') ?? 0) > 5 ? true : undefined),
      15_000,
    );
    await postgres().start();
    await eventually(
      async () => ((await api('GET', '/ready')).status === 200 ? true : undefined),
      20_000,
    );
    await eventually(async () => (acknowledged.size > downAt + 100 ? true : undefined), 20_000);
    running = false;
    await load;
    t.log(
      `acknowledged ${acknowledged.size} charges; refusals: ${JSON.stringify(Object.fromEntries(refusals))}`,
    );
    t.deepEqual(
      [...refusals.keys()].filter((key) => key !== '503 UNAVAILABLE'),
      [],
      'while down, only 503 UNAVAILABLE',
    );
    t.truthy(retryAfter, '503s carry Retry-After');
    const contents = await readContents(url);
    for (const [u, userId] of users.entries()) {
      const mine = [...acknowledged.values()].filter((owner) => owner === u).length;
      // A charge that got no answer (the connection died) may be applied too: at least every acknowledged one.
      t.true(
        (contents.wallets.get(userId)?.charged ?? 0) >= mine,
        `${userId}: every acknowledged charge survived the crash`,
      );
    }
    await assertInvariants(t, url);
  },
);

test.serial(
  'an event stream on gateway A sees an admission decided by the keeper on gateway B',
  async (t) => {
    const { db, gateway } = await cluster(t);
    // The first token's turn lasts 3 s: long enough for the second to join behind it on a loaded machine.
    const env = { QUEUE_MAX_ACTIVE: '1', TOKEN_ACTIVE_TTL_MS: '3000', QUEUE_TICK_MS: '100' };
    const gateways = [await gateway(env), await gateway(env)];
    const keeper = await eventually(async () => keeperPid(db), 10_000, 'a keeper');
    const a = gateways.find((server) => !pidsOf(server).includes(keeper))!;
    t.truthy(a, 'one gateway is not the keeper');
    const api = client(a.url);
    await activeTokens(api, ['first']);
    const second = (await api('POST', '/queue/tokens', { body: { userId: 'second' } })).body;
    t.is(second.status, 'waiting');
    const stream = await fetch(`${a.url}/queue/tokens/current/events?access_token=${second.token}`);
    const reader = stream.body!.getReader();
    let text = '';
    // The first token's active period ends; the keeper (the other process) admits the second; A's stream says so.
    while (!/"status":"active"/.test(text)) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    await reader.cancel();
    t.regex(text, /"status":"waiting","position":1/);
    t.regex(text, /"status":"active"/, 'the stream on a non-keeper gateway saw the admission');
  },
);

test.serial(
  'WORKERS=2: a worker that dies is replaced, and the gateway keeps answering meanwhile',
  async (t) => {
    const { gateway } = await cluster(t);
    const server = await gateway({ WORKERS: '2' });
    const api = client(server.url);
    const [first, second] = pidsOf(server).slice(1) as [number, number];
    process.kill(first, 'SIGKILL');
    // Once the primary knows (a connection it dealt to the dying worker in that instant gets no answer), the other answers.
    await eventually(
      async () =>
        server.logs.some(
          (entry) => entry.msg === 'a worker died; starting another' && entry.pid === first,
        )
          ? true
          : undefined,
      60_000,
      'the primary to see the death',
    );
    t.is((await api('GET', '/ready')).status, 200, 'the other worker answers');
    const replacement = await eventually(
      async () =>
        pidsOf(server)
          .slice(1)
          .find((pid) => pid !== first && pid !== second),
      // A worker is ready once its engine and keys are open: well over 15 s on a loaded CI machine.
      60_000,
      'a new worker',
    );
    t.log(`worker ${first} killed, ${replacement} took its place`);
    t.true(
      server.logs.some(
        (entry) => entry.msg === 'a worker died; starting another' && entry.pid === first,
      ),
    );
    for (let i = 0; i < 4; i++) t.is((await api('GET', '/ready')).status, 200);
    server.process.kill('SIGTERM');
    t.deepEqual(await server.exited, { code: 0, signal: null });
  },
);

test.serial(
  'a gateway started before its database answers 503 UNAVAILABLE, then comes up by itself; a wrong database name stops it at once',
  async (t) => {
    const { url } = await cluster(t);
    // It listens first and answers 503 while it waits for the database.
    const { waiting, server } = await startedBeforeItsDatabase(t, url);
    t.is(waiting.body.code, 'UNAVAILABLE');
    t.true(
      server.logs.some((entry) => entry.msg === 'the database cannot be reached yet; trying again'),
      'it waited for the database',
    );
    t.deepEqual((await client(server.url)('GET', '/ready')).body, { status: 'ready' });

    const wrong = new URL(url);
    wrong.pathname = '/no_such_database';
    const refused = await runServerProcess({ DATABASE_URL: wrong.toString() });
    t.is(refused.code, 1);
    t.regex(
      refused.stderr,
      /usher cannot start: DATABASE_URL postgres:\/\/.*no_such_database.*does not exist/,
    );
  },
);

test.serial(
  'WORKERS=2: when the primary is killed, its workers drain and exit instead of living on (and the keeper seat is freed)',
  async (t) => {
    const { db, gateway } = await cluster(t);
    const server = await gateway({ WORKERS: '2' });
    const workers = pidsOf(server).slice(1);
    t.is(workers.length, 2);
    await eventually(async () => keeperPid(db), 10_000, 'a keeper');
    server.process.kill('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually(
      async () => (workers.every((pid) => !alive(pid)) ? true : undefined),
      15_000,
      'the workers to exit',
    );
    t.is(
      await eventually(
        async () => ((await keeperPid(db)) === undefined ? 'free' : undefined),
        10_000,
        'the keeper seat to be free',
      ),
      'free',
    );
  },
);

test.serial(
  'finding 9: WORKERS=2, a replacement worker takes connections only once its engine is open: no 503 while it starts',
  async (t) => {
    const { gateway } = await cluster(t);
    const server = await gateway({ WORKERS: '2' });
    const workers = pidsOf(server).slice(1);
    const statuses = new Map<number, number>();
    let failed = 0;
    let hammering = true;
    // Each request on a new connection (no agent), so that the primary deals every one to a worker.
    const healthOnce = () =>
      new Promise<number>((resolve, reject) => {
        const request = get(`${server.url}/health`, { agent: false }, (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
        }).once('error', reject);
        // A connection dealt to the worker in the instant it died may never be answered.
        request.setTimeout(5_000, () => request.destroy(new Error('no answer')));
      });
    const loops = Array.from({ length: 4 }, async () => {
      while (hammering) {
        try {
          const status = await healthOnce();
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        } catch {
          failed++; // a connection dealt to the killed worker in that instant
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    });
    process.kill(workers[0]!, 'SIGKILL');
    const replacement = await eventually(
      async () =>
        pidsOf(server)
          .slice(1)
          .find((pid) => !workers.includes(pid)),
      20_000,
      'a replacement worker',
    );
    // Its share of the traffic, once it listens.
    await eventually(
      async () =>
        server.logs.filter((entry) => entry.pid === replacement && entry.route === '/health')
          .length >= 20
          ? true
          : undefined,
      20_000,
      'the replacement to serve',
    );
    hammering = false;
    await Promise.all(loops);
    t.log(`answers ${JSON.stringify([...statuses])}, ${failed} connections lost in the kill`);
    t.is(statuses.get(503) ?? 0, 0, 'no 503 from a worker still opening its engine');
    t.true((statuses.get(200) ?? 0) > 0);
    server.process.kill('SIGTERM');
    t.deepEqual(await server.exited, { code: 0, signal: null });
  },
);

test.serial(
  'finding 9: every answer has its access-log line, the 503s sent while the engine opens and while the server drains included',
  async (t) => {
    const { url } = await cluster(t);
    const { waiting, server } = await startedBeforeItsDatabase(t, url, {
      'X-Request-Id': 'while-starting',
    });
    t.is(waiting.body.code, 'UNAVAILABLE');
    const starting = server.logs.filter((entry) => entry.requestId === 'while-starting');
    t.true(starting.length >= 1, 'the 503 while starting has its line');
    t.like(starting[0], { method: 'GET', route: 'starting', path: '/ready', status: 503 });

    // Draining: an open event stream keeps the server in its grace period; a request on a kept-alive
    // connection meanwhile is answered 503 SHUTTING_DOWN, and logged.
    const token = (await client(server.url)('POST', '/queue/tokens', { body: { userId: 'ann' } }))
      .body.token as string;
    const stream = await fetch(`${server.url}/queue/tokens/current/events?access_token=${token}`);
    t.is(stream.status, 200);
    server.process.kill('SIGTERM');
    await eventually(
      async () => (server.logs.some((entry) => entry.msg === 'shutting down') ? true : undefined),
      10_000,
      'the drain to start',
    );
    const drained = await client(server.url)('GET', '/health', {
      headers: { 'X-Request-Id': 'while-draining' },
    }).catch(() => undefined);
    if (drained !== undefined) {
      t.is(drained.status, 503);
      await eventually(
        async () =>
          server.logs.some((entry) => entry.requestId === 'while-draining' && entry.status === 503)
            ? true
            : undefined,
        10_000,
        'the drain 503 to be logged',
      );
    }
    await stream.body?.cancel();
    t.is((await server.exited).code, 0);
  },
);
