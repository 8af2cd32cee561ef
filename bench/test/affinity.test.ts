import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  affinityOf,
  ALL_CORES,
  checkAffinity,
  cpuList,
  hasTaskset,
  postgresPids,
  setAffinity,
} from '../src/http/affinity.js';
import { startServer, stopServer } from '../src/http/load.js';
import { benchPostgres, startCluster, stopBenchPostgres } from '../src/scenarios/clusterServer.js';

// A process's CPU mask is inherited across fork and exec. This file's process narrows itself to CPU 0,
// as `bench:cluster` used to (`taskset -a -p -c 1`): what it starts must still get the cores its row says.
const runs = hasTaskset() && availableParallelism() >= 2 ? test.serial : test.serial.skip;
const baseline = fileURLToPath(new URL('../src/http/baselineServer.ts', import.meta.url));
const all = cpuList(ALL_CORES).join(',');

test.before(() => {
  if (hasTaskset()) setAffinity(process.pid, '0');
});
test.after.always(() => stopBenchPostgres());

test('cpuList reads taskset lists', (t) => {
  t.deepEqual(cpuList('0-1'), [0, 1]);
  t.deepEqual(cpuList('0,2-4'), [0, 2, 3, 4]);
  t.deepEqual(cpuList('3'), [3]);
});

runs('a server started on all cores runs on all of them, not on the harness’s one', async (t) => {
  t.is(affinityOf(process.pid), '0');
  const { child } = await startServer(baseline, ['koa-get'], {}, ['--import=tsx'], [], {
    pin: ALL_CORES,
  });
  try {
    t.is(affinityOf(child.pid!), all);
    t.notThrows(() => checkAffinity([{ role: 'server', pid: child.pid! }], ALL_CORES));
  } finally {
    await stopServer(child);
  }
});

runs('checkAffinity refuses a server that inherited the harness’s narrower mask', async (t) => {
  const { child } = await startServer(baseline, ['koa-get'], {}, ['--import=tsx'], [], {
    pin: false,
  });
  try {
    t.is(affinityOf(child.pid!), '0');
    const error = t.throws(() => checkAffinity([{ role: 'server', pid: child.pid! }], ALL_CORES));
    t.regex(error.message, new RegExp(`server ${child.pid} on 0\\b`));
  } finally {
    await stopServer(child);
  }
});

runs('a cluster row: its primary, workers and PostgreSQL all run on all cores', async (t) => {
  const server = await startCluster(2, { TOKEN_RATE_PER_MINUTE: '0' });
  try {
    // The workers say they are ready after the primary listens; wait for both.
    for (let i = 0; i < 100 && server.pids().length < 3; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    t.is(server.pids().length, 3);
    const postgres = postgresPids((await benchPostgres()).dataDir);
    t.true(postgres.length > 1);
    const read = checkAffinity(
      [
        ...server.pids().map((pid) => ({ role: 'server', pid })),
        ...postgres.map((pid) => ({ role: 'postgres', pid })),
      ],
      ALL_CORES,
    );
    t.true(read.length >= 3 + 2);
    t.true(read.every((process) => process.cores === all));
  } finally {
    await server.stop();
    server.cleanup();
  }
});
