import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const packages = fileURLToPath(new URL('../..', import.meta.url));
const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
/** The environment of a user's shell: none of the npm_* variables a pnpm or npm script sets. */
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)),
);

/** A plain JavaScript user of both packages: the README's engine snippet, then the API over node:http. */
const app = `
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { createApp } from '@usher/koa';

const catalog = {
  concerts: [{ id: 'c1', title: 'Spring Concert' }],
  schedules: [{ id: 's1', concertId: 'c1', startsAt: '2027-05-01T19:00:00+09:00', totalSeats: 50, price: 99_000 }],
};

const engine = await createEngine();
await engine.loadCatalog(catalog);
const { token } = await engine.issueToken('ann');
const hold = await engine.reserve(token.token, { scheduleId: 's1', seatNo: 7 });
await engine.charge(token.token, { userId: 'ann', amount: 100_000 }, { idempotencyKey: 'top-up-1' });
const payment = await engine.pay(token.token, { reservationId: hold.id }, { idempotencyKey: 'pay-1' });
await engine.close();

const folder = mkdtempSync(join(tmpdir(), 'usher-publish-store-'));
const served = await createEngine({ store: new LowdbStore(folder) });
await served.loadCatalog(catalog);
const server = createServer(createApp(served).callback());
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = 'http://127.0.0.1:' + server.address().port;
const joined = await fetch(url + '/queue/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'bob' }) });
const bob = await joined.json();
const concerts = await fetch(url + '/concerts', { headers: { authorization: 'Bearer ' + bob.token } });
const refused = await fetch(url + '/concerts', { headers: { authorization: 'Bearer nope' } });
await new Promise((resolve) => server.close(resolve));
await served.close();
rmSync(folder, { recursive: true, force: true });

console.log(JSON.stringify({
  payment: { amount: payment.amount, balance: payment.balance },
  joined: { status: joined.status, token: bob.status },
  concerts: { status: concerts.status, body: await concerts.json() },
  refused: { status: refused.status, type: refused.headers.get('content-type'), code: (await refused.json()).code },
}));
`;

/**
 * A TypeScript user of both packages, strict, with no `skipLibCheck`: the published types must
 * resolve from what the package README's install line brings (`npm install @usher/koa
 * @usher/engine koa`), with nothing installed by hand (no `@types/koa`).
 */
const typed = `
import { createServer } from 'node:http';
import { createEngine, type UsherEngine } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';
import { createApp, HttpProblem, type AppOptions } from '@usher/koa';
import Koa from 'koa';

const engine: UsherEngine = await createEngine({ store: new LowdbStore('./data') });
const options: AppOptions = {
  basePath: '/tickets',
  resolveUserId: (ctx) => {
    const user = ctx.get('x-user');
    if (user === 'nobody') throw new HttpProblem('IDENTITY_INVALID', 'not signed in');
    return user || undefined;
  },
};
const app: Koa = createApp(engine, options);
app.on('error', (error: Error) => console.error(error.message));
createServer(app.callback());
`;

test('@usher/engine and @usher/koa packed with pnpm install with npm into an empty folder and work from plain JavaScript, and type-check in a strict TypeScript project', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'usher-publish-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));

  // One after the other: koa's prepack builds the engine too.
  for (const name of ['engine', 'koa']) {
    await run('npx', ['--yes', 'pnpm@10', 'pack', '--pack-destination', folder], {
      cwd: join(packages, name),
      env: userEnv,
    });
  }
  const tarballs = (await readdir(folder)).filter((file) => file.endsWith('.tgz')).sort();
  t.deepEqual(tarballs, ['usher-engine-0.1.0.tgz', 'usher-koa-0.1.0.tgz']);

  for (const tarball of tarballs) {
    const files = (await run('tar', ['-tzf', join(folder, tarball)])).stdout
      .split('\n')
      .filter(Boolean);
    for (const file of [
      'package/package.json',
      'package/README.md',
      'package/LICENSE',
      'package/dist/index.js',
      'package/dist/index.d.ts',
    ]) {
      t.true(files.includes(file), `${tarball} has ${file}`);
    }
    t.deepEqual(
      files.filter((file) => /tsbuildinfo|\/test\//.test(file)),
      [],
      `${tarball} carries no build info and no tests`,
    );
    const manifest = JSON.parse(
      (await run('tar', ['-xOzf', join(folder, tarball), 'package/package.json'])).stdout,
    ) as Record<string, Record<string, string>>;
    t.notRegex(
      JSON.stringify(manifest),
      /workspace:/,
      `${tarball}: workspace ranges are rewritten`,
    );
    if (tarball.startsWith('usher-koa')) {
      t.is(manifest.dependencies!['@usher/engine'], '0.1.0');
      t.deepEqual(
        manifest.peerDependencies,
        { koa: '^3.3.0' },
        'koa is the user’s: a peer dependency',
      );
      t.false('koa' in manifest.dependencies!);
    }
  }

  // An empty folder, as a user's project: npm, the tarballs, and koa (the peer).
  const project = join(folder, 'project');
  await mkdir(project);
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
  );
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...tarballs.map((tarball) => join(folder, tarball)),
      'koa@3',
    ],
    {
      cwd: project,
      env: userEnv,
    },
  );
  // TypeScript first (the compiler is the user's own; here the repository's), nothing added.
  await writeFile(join(project, 'typed.ts'), typed);
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['typed.ts'],
    }),
  );
  const checked = await run(process.execPath, [tsc, '-p', project], {
    cwd: project,
    env: userEnv,
  }).then(
    () => '',
    (error: { stdout: string }) => error.stdout,
  );
  t.is(checked, '', 'tsc --noEmit in the project');

  await writeFile(join(project, 'app.mjs'), app);
  const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: project, env: userEnv });
  t.deepEqual(JSON.parse(stdout), {
    payment: { amount: 99_000, balance: 1_000 },
    joined: { status: 201, token: 'active' },
    concerts: { status: 200, body: { concerts: [{ id: 'c1', title: 'Spring Concert' }] } },
    refused: { status: 401, type: 'application/problem+json', code: 'TOKEN_INVALID' },
  });
});
