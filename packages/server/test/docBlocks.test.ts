import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { SignJWT } from 'jose';
import { client, startServerProcess } from './helpers/serverProcess.js';

// Every code block of the README and docs/ is type-checked or run here (or by the test named for
// it), so that none rots: `ts`/`js` blocks are type-checked together, strict; `sh`/`bash` blocks
// are each in the table below; `text` is output shown and `yaml` a configuration file, both
// marked as such by their language.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const serverPackage = fileURLToPath(new URL('../', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');

interface Block {
  readonly where: string;
  readonly lang: string;
  readonly code: string;
}

async function blocks(): Promise<Block[]> {
  const files = [
    'README.md',
    ...(await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ];
  const found: Block[] = [];
  for (const file of files) {
    const lines = (await readFile(join(root, file), 'utf8')).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(.*)$/.exec(lines[i]!);
      if (!open) continue;
      const end = lines.indexOf('```', i + 1);
      found.push({
        where: `${file}:${i + 1}`,
        lang: open[1]!.trim(),
        code: lines.slice(i + 1, end).join('\n'),
      });
      i = end;
    }
  }
  return found;
}

/** The check of a shell block: the one whose key starts its first line. */
const checkOf = (block: Block) =>
  Object.entries(shellBlocks).find(([start]) => block.code.startsWith(start))?.[1];

test('every block of the README and docs/ says what it is: code (ts, js, sh, bash), output (text) or configuration (yaml)', async (t) => {
  const all = await blocks();
  t.true(all.length >= 10);
  for (const block of all)
    t.true(['ts', 'js', 'sh', 'bash', 'text', 'yaml'].includes(block.lang), block.where);
});

test('every TypeScript and JavaScript block of the README and docs/ type-checks, strict, against the packages', async (t) => {
  const code = (await blocks()).filter((block) => block.lang === 'ts' || block.lang === 'js');
  t.true(code.length >= 6, `${code.length} blocks`);
  // Inside this package, so that the blocks import the workspace packages as a user would: their
  // published types (`dist`, which `pnpm test` builds first with `tsc -b`).
  const dir = await mkdtemp(join(serverPackage, '.doc-blocks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const names = code.map((block) => `${block.where.replace(/[/:.]/g, '_')}.ts`);
  await Promise.all(
    code.map((block, i) =>
      // Each a module of its own (top-level await), whatever it imports.
      writeFile(join(dir, names[i]!), `${block.code}\nexport {};\n`),
    ),
  );
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2023',
        lib: ['ES2023', 'DOM'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        noEmit: true,
        skipLibCheck: true,
      },
      files: names,
    }),
  );
  const output = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
    () => '',
    (error: { stdout: string }) => error.stdout,
  );
  // Name the block, not the temp file.
  t.is(
    names.reduce((text, name, i) => text.replaceAll(name, code[i]!.where), output),
    '',
  );
});

/** How each shell block is checked, by the start of its first line. */
const shellBlocks: Record<string, (t: ExecutionContext, block: Block) => Promise<void>> = {
  // The quick start: both commands are scripts of the repository, and CI runs the second as written.
  'npx --yes pnpm@10 install && npx --yes pnpm@10 start': async (t, block) => {
    const scripts = (
      JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    for (const [, name] of block.code.matchAll(/pnpm@10 (\w[\w:]*)/g))
      if (name !== 'install') t.truthy(scripts[name!], `pnpm ${name}`);
    t.regex(await readFile(join(root, '.ci/run'), 'utf8'), /^npx --yes pnpm@10 test$/m);
  },
  // The walk-through: run twice in bash and zsh (walkthrough.test.ts) and through Prism (contract.test.ts).
  'U=http://127.0.0.1:3000; RUN=$(date +%s); ME=ann-$RUN': async (t) => {
    for (const file of ['walkthrough.test.ts', 'contract.test.ts'])
      t.regex(await readFile(join(serverPackage, 'test', file), 'utf8'), /walkThrough\(/, file);
  },
  // The operator API: run as written against a server with that admin token.
  'export ADMIN_TOKEN=$(openssl rand -hex 32)   # and start the server with it': async (
    t,
    block,
  ) => {
    const ADMIN_TOKEN = 'an-operator-token-for-the-docs-test';
    const server = await started(t, { ADMIN_TOKEN });
    const script = block.code
      .replace('$(openssl rand -hex 32)', ADMIN_TOKEN)
      .replaceAll('localhost:3000', new URL(server.url).host);
    const { stdout } = await run('bash', ['--norc', '--noprofile', '-e', '-c', script]);
    // curl -s prints each answer as it came, with no newline between them.
    const answers = stdout.match(/\{[^{}]*\}/g) ?? [];
    t.is(answers.length, 4, stdout);
    t.like(JSON.parse(answers[0]!), { paused: false, admitPerTick: 100, maxActive: 1000 });
    t.like(JSON.parse(answers[1]!), { paused: true });
    t.like(JSON.parse(answers[2]!), { paused: false, maxActive: 500, admitPerTick: 50 });
    t.like(JSON.parse(answers[3]!), { opensAt: '2027-05-01T01:00:00.000Z', shuffle: true });
  },
  // Signed-in mode: joining with a JWT, run as written against a server with AUTH_JWT_SECRET.
  "# a JWT for ann, e.g. with jose: new SignJWT({ sub: 'ann' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(secret)":
    async (t, block) => {
      const secret = 'a-shared-secret-of-at-least-32-bytes!';
      const server = await started(t, { AUTH_JWT_SECRET: secret });
      const ANN_JWT = await new SignJWT({ sub: 'ann' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret));
      const script = block.code.replaceAll('localhost:3000', new URL(server.url).host);
      const { stdout } = await run('bash', ['--norc', '--noprofile', '-e', '-c', script], {
        env: { ...process.env, ANN_JWT },
      });
      t.like(JSON.parse(stdout), { userId: 'ann', status: 'active' });
    },
  // Scaling out: the settings it names are the server's, and the command is the quick start's;
  // cluster.test.ts runs that server with DATABASE_URL and WORKERS.
  '# one machine, four gateways sharing port 3000 (node:cluster); the database is the only state':
    async (t, block) => {
      const config = await readFile(join(serverPackage, 'src/config.ts'), 'utf8');
      for (const [, name] of block.code.matchAll(/\b([A-Z][A-Z_]+)=/g))
        t.regex(config, new RegExp(`\\b${name}\\b`), name!);
      t.regex(block.code, /npx --yes pnpm@10 start$/m);
    },
};

async function started(t: ExecutionContext, env: Record<string, string>) {
  const DATA_DIR = await mkdtemp(join(tmpdir(), 'usher-doc-blocks-'));
  t.teardown(() => rm(DATA_DIR, { recursive: true, force: true }));
  const server = await startServerProcess({ DATA_DIR, ...env });
  t.teardown(() => server.process.kill('SIGKILL'));
  t.is((await client(server.url)('GET', '/health')).status, 200);
  return server;
}

test('every shell block of the README and docs/ is run here or by the test named for it', async (t) => {
  const shell = (await blocks()).filter((block) => block.lang === 'sh' || block.lang === 'bash');
  t.deepEqual(
    shell.filter((block) => checkOf(block) === undefined).map((block) => block.where),
    [],
    'a new shell block: say in this table how it is checked',
  );
  for (const block of shell) await checkOf(block)!(t, block);
});
