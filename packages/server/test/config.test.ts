import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { readConfig, StartupError } from '../src/config.js';
import { secretWeakness } from '../src/secrets.js';
import { runServerProcess } from './helpers/serverProcess.js';

test('numbers in the environment are digits only: empty, signed, fractional, exponent, hex or padded values are refused, naming the variable', (t) => {
  for (const value of ['', ' ', '-1', '1.5', '1e3', '0x10', ' 5 ', '5ms']) {
    for (const name of [
      'PORT',
      'MAX_CONNECTIONS_PER_ADDRESS',
      'HOLD_TTL_MS',
      'STREAM_MAX_LIFETIME_MS',
    ]) {
      const error = t.throws(
        () => readConfig({ [name]: value }),
        undefined,
        `${name}=${JSON.stringify(value)}`,
      );
      t.regex(
        error!.message,
        new RegExp(`${name}: must be a whole number`),
        `${name}=${JSON.stringify(value)}`,
      );
    }
  }
});

test('unset variables take their defaults, set ones their value', (t) => {
  const config = readConfig({ PORT: '0', MAX_CONNECTIONS_PER_ADDRESS: '0', HOLD_TTL_MS: '60000' });
  t.is(config.port, 0);
  t.is(config.http.maxConnectionsPerAddress, 0);
  t.is(config.engine.holdTtlMs, 60_000);
  t.is(readConfig({}).port, 3000);
  t.is(readConfig({}).http.maxConnectionsPerAddress, 64);
});

test('the engine gets only the options set in the environment: its own defaults apply to the rest', (t) => {
  t.deepEqual(
    readConfig({}).engine,
    {},
    'nothing set, nothing passed: a new engine default is the server default too',
  );
  t.deepEqual(readConfig({ HOLD_TTL_MS: '60000', MAX_HOLDS_PER_USER: '2' }).engine, {
    holdTtlMs: 60_000,
    maxHoldsPerUser: 2,
  });
});

test('LOG_LEVEL is checked with the rest of the environment, naming it', (t) => {
  const error = t.throws(() => readConfig({ LOG_LEVEL: 'verbose' }));
  t.regex(error!.message, /^bad environment: LOG_LEVEL: /);
});

test('a variable that looks like one of usher’s but is none is a warning naming it (and the one it resembles)', (t) => {
  const { warnings } = readConfig({
    HOLD_TTL: '1000',
    QUEUE_SIZE: '5',
    DATADIR: './x',
    PROT: '3001',
    LOGLEVEL: 'debug',
  });
  t.deepEqual(warnings, [
    'DATADIR is not a setting of usher and is ignored (did you mean DATA_DIR?)',
    'HOLD_TTL is not a setting of usher and is ignored (did you mean HOLD_TTL_MS?)',
    'LOGLEVEL is not a setting of usher and is ignored (did you mean LOG_LEVEL?)',
    'PROT is not a setting of usher and is ignored (did you mean PORT?)',
    'QUEUE_SIZE is not a setting of usher and is ignored',
  ]);
});

test('the usual variables of a process are not usher’s business', (t) => {
  const ambient = {
    HOME: '/root',
    HOSTNAME: 'box',
    HOSTTYPE: 'x86_64',
    PATH: '/bin',
    PWD: '/',
    TERM: 'xterm',
    USER: 'ann',
    LANG: 'C',
    HTTP_PROXY: 'http://proxy',
    HTTPS_PROXY: 'http://proxy',
    NODE_ENV: 'production',
    CI: 'true',
    LOGNAME: 'ann',
    SHELL: '/bin/sh',
    TMPDIR: '/tmp',
    GITHUB_TOKEN: 'x',
  };
  t.deepEqual(readConfig(ambient).warnings, []);
});

test('DATABASE_URL selects PostgreSQL, WORKERS needs it, and the pool is shared out among the workers', (t) => {
  t.is(readConfig({}).database, undefined, 'the embedded store by default');
  t.is(readConfig({}).workers, 1);
  const url = 'postgres://usher:secret@db.internal:5432/usher';
  t.deepEqual(readConfig({ DATABASE_URL: url }).database, { url, poolSize: 24 });
  t.deepEqual(readConfig({ DATABASE_URL: url, WORKERS: '4' }).database, { url, poolSize: 6 });
  t.deepEqual(
    readConfig({ DATABASE_URL: url, WORKERS: '8' }).database,
    { url, poolSize: 6 },
    'at least 6 each',
  );
  t.deepEqual(readConfig({ DATABASE_URL: url, WORKERS: '2', DATABASE_POOL_SIZE: '40' }).database, {
    url,
    poolSize: 40,
  });
  t.is(readConfig({ DATABASE_URL: 'postgresql://h/db' }).database?.url, 'postgresql://h/db');
  t.regex(t.throws(() => readConfig({ WORKERS: '2' }))!.message, /WORKERS=2 needs DATABASE_URL/);
  t.regex(t.throws(() => readConfig({ WORKERS: '0', DATABASE_URL: url }))!.message, /WORKERS: /);
  t.regex(
    t.throws(() => readConfig({ DATABASE_URL: 'mysql://h/db' }))!.message,
    /DATABASE_URL: must be a postgres:\/\//,
  );
  t.regex(t.throws(() => readConfig({ DATABASE_URL: 'not a url' }))!.message, /DATABASE_URL: /);
  t.regex(
    t.throws(() => readConfig({ DATABASE_POOL_SIZE: '10' }))!.message,
    /DATABASE_POOL_SIZE is set but DATABASE_URL is not/,
  );
  t.deepEqual(readConfig({ DATABASE_URI: url }).warnings, [
    'DATABASE_URI is not a setting of usher and is ignored (did you mean DATABASE_URL?)',
  ]);
});

test('the operator’s settings: defaults, values, and bad ones refused naming the variable', (t) => {
  const defaults = readConfig({});
  t.is(defaults.adminToken, undefined);
  t.deepEqual(defaults.tokenRate, { perMinute: 60, burstPerSecond: 10 });
  t.false(defaults.trustProxy);
  t.is(defaults.challenge, undefined);

  const set = readConfig({
    ADMIN_TOKEN: 'f3a9c1d27b8e4a60',
    TOKEN_RATE_PER_MINUTE: '600',
    TOKEN_RATE_BURST: '50',
    TRUST_PROXY: 'true',
    QUEUE_CHALLENGE: 'pow',
    QUEUE_CHALLENGE_MAX_NUMBER: '20000',
  });
  t.is(set.adminToken, 'f3a9c1d27b8e4a60');
  t.deepEqual(set.tokenRate, { perMinute: 600, burstPerSecond: 50 });
  t.true(set.trustProxy);
  t.deepEqual(set.challenge, { secret: undefined, maxNumber: 20_000 });
  t.deepEqual(readConfig({ QUEUE_CHALLENGE: 'pow' }).challenge, {
    secret: undefined,
    maxNumber: 50_000,
  });
  t.deepEqual(
    readConfig({ TOKEN_RATE_PER_MINUTE: '0' }).tokenRate.perMinute,
    0,
    '0 turns the limit off',
  );
  t.deepEqual(
    readConfig({ TOKEN_RATE_PER_MINUTE: '3' }).tokenRate,
    { perMinute: 3, burstPerSecond: 3 },
    'the burst is never over the minute',
  );

  for (const [name, value, message] of [
    ['ADMIN_TOKEN', 'short', /ADMIN_TOKEN: must be at least 16 visible ASCII characters/],
    [
      'ADMIN_TOKEN',
      `${'a'.repeat(16)} b`,
      /ADMIN_TOKEN: must be at least 16 visible ASCII characters, no spaces/,
    ],
    ['TOKEN_RATE_PER_MINUTE', '-1', /TOKEN_RATE_PER_MINUTE: must be a whole number/],
    ['TOKEN_RATE_PER_MINUTE', '', /TOKEN_RATE_PER_MINUTE: must be a whole number/],
    ['TOKEN_RATE_BURST', '0', /TOKEN_RATE_BURST: /],
    ['TRUST_PROXY', 'yes', /TRUST_PROXY: /],
    ['QUEUE_CHALLENGE', 'captcha', /QUEUE_CHALLENGE: /],
    ['QUEUE_CHALLENGE_MAX_NUMBER', '10', /QUEUE_CHALLENGE_MAX_NUMBER: /],
  ] as const) {
    const error = t.throws(
      () => readConfig({ QUEUE_CHALLENGE: 'pow', [name]: value }),
      undefined,
      `${name}=${value}`,
    );
    t.regex(error!.message, message);
  }
});

test('finding 6: every secret needs real entropy: repeated, sequential or dictionary values are refused at start, naming the variable', async (t) => {
  for (const [name, value] of [
    ['ADMIN_TOKEN', 'aaaaaaaaaaaaaaaa'],
    ['ADMIN_TOKEN', 'abcdefghijklmnop'],
    ['ADMIN_TOKEN', 'password12345678'],
    ['ADMIN_TOKEN', 'qwertyuiopasdfgh'],
    ['AUTH_JWT_SECRET', 'x'.repeat(32)],
    ['AUTH_JWT_SECRET', '0123456789abcdef0123456789abcdef'],
    ['QUEUE_CHALLENGE_SECRET', 's'.repeat(32)],
  ] as const) {
    const error = t.throws(() => readConfig({ QUEUE_CHALLENGE: 'pow', [name]: value }), {
      instanceOf: StartupError,
    });
    t.regex(error?.message ?? '', new RegExp(`${name}: is guessable`), `${name}=${value}`);
  }
  for (const value of [
    'f3a9c1d27b8e4a60',
    randomBytes(32).toString('hex'),
    'an-operator-token-for-tests',
  ])
    t.is(readConfig({ ADMIN_TOKEN: value }).adminToken, value);
  t.is(secretWeakness(randomBytes(16).toString('base64url')), undefined);
  const run = await runServerProcess({
    DATA_DIR: join(tmpdir(), `usher-weak-secret-never-${process.pid}`),
    ADMIN_TOKEN: 'aaaaaaaaaaaaaaaa',
  });
  t.is(run.code, 1);
  t.regex(run.stderr, /^usher cannot start: bad environment: ADMIN_TOKEN: is guessable/);
});

test('a challenge secret or difficulty without QUEUE_CHALLENGE=pow is a mistake; several gateways need a shared secret', (t) => {
  const stray = t.throws(() =>
    readConfig({ QUEUE_CHALLENGE_SECRET: 'a-shared-secret-of-at-least-32-bytes!' }),
  );
  t.regex(stray!.message, /QUEUE_CHALLENGE_SECRET is set but QUEUE_CHALLENGE is not pow/);
  t.regex(
    t.throws(() => readConfig({ QUEUE_CHALLENGE: 'pow', QUEUE_CHALLENGE_SECRET: 'short' }))!
      .message,
    /QUEUE_CHALLENGE_SECRET: must be at least 32 bytes/,
  );
  // (WORKERS over 1 needs DATABASE_URL in any case.)
  for (const env of [
    { DATABASE_URL: 'postgres://db/usher' },
    { DATABASE_URL: 'postgres://db/usher', WORKERS: '4' },
  ]) {
    const error = t.throws(() => readConfig({ QUEUE_CHALLENGE: 'pow', ...env }));
    t.regex(
      error!.message,
      /QUEUE_CHALLENGE=pow with DATABASE_URL or WORKERS over 1 needs QUEUE_CHALLENGE_SECRET/,
    );
    t.is(
      readConfig({
        QUEUE_CHALLENGE: 'pow',
        QUEUE_CHALLENGE_SECRET: 'a-shared-secret-of-at-least-32-bytes!',
        ...env,
      }).challenge?.secret,
      'a-shared-secret-of-at-least-32-bytes!',
    );
  }
  t.notThrows(() => readConfig({ QUEUE_CHALLENGE: 'pow', WORKERS: '1' }));
});

test('signing keys and return origins: PEM keys read (also with \\n written out), bad ones refused naming the variable', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const pem = (type: 'ed25519' | 'ec' = 'ed25519') =>
    (type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519')
    ).privateKey
      .export({ format: 'pem', type: 'pkcs8' })
      .toString();
  const defaults = readConfig({});
  t.deepEqual(defaults.signing, { keys: {}, previous: { pass: [], ticket: [] } });
  t.deepEqual(defaults.passReturnOrigins, []);
  const pass = pem();
  const ticket = pem();
  const old = [pem(), pem()];
  const set = readConfig({
    PASS_SIGNING_KEY: pass,
    TICKET_SIGNING_KEY: ticket.trim().replaceAll('\n', '\\n'),
    PASS_SIGNING_KEY_PREVIOUS: old.join(''),
    PASS_RETURN_ORIGINS: 'https://shop.example, http://127.0.0.1:4000',
  });
  t.is(set.signing.keys.pass, pass.trim());
  t.is(set.signing.keys.ticket, ticket.trim());
  t.deepEqual(
    set.signing.previous.pass,
    old.map((key) => key.trim()),
  );
  t.deepEqual(set.passReturnOrigins, ['https://shop.example', 'http://127.0.0.1:4000']);
  for (const [name, value, message] of [
    ['PASS_SIGNING_KEY', 'not a key', /PASS_SIGNING_KEY: must be one PEM private key/],
    ['TICKET_SIGNING_KEY', pem('ec'), /TICKET_SIGNING_KEY: is a ec key, not Ed25519/],
    ['PASS_SIGNING_KEY', pass + pass, /PASS_SIGNING_KEY: must be one PEM private key/],
    [
      'PASS_SIGNING_KEY',
      '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
      /PASS_SIGNING_KEY: is not a readable PEM key/,
    ],
    [
      'PASS_RETURN_ORIGINS',
      'https://shop.example/path',
      /PASS_RETURN_ORIGINS: "https:\/\/shop.example\/path" is not an origin/,
    ],
  ] as const) {
    const error = t.throws(() => readConfig({ [name]: value }));
    t.regex(error.message, message, name);
    if (name !== 'PASS_RETURN_ORIGINS')
      t.notRegex(error.message, /MII|AAAA/, 'the key is not echoed');
  }
});

test('tickets (SPEC §11): SCANNER_TOKEN turns check-in on, REFUND_CUTOFF_MS sets the refund cutoff', (t) => {
  const defaults = readConfig({});
  t.is(defaults.scannerToken, undefined);
  t.is(defaults.engine.refundCutoffMs, undefined, 'the engine default (a day) applies');
  const set = readConfig({ SCANNER_TOKEN: '9c1d27b8e4a60f3a', REFUND_CUTOFF_MS: '3600000' });
  t.is(set.scannerToken, '9c1d27b8e4a60f3a');
  t.is(set.engine.refundCutoffMs, 3_600_000);
  t.is(readConfig({ REFUND_CUTOFF_MS: '0' }).engine.refundCutoffMs, 0);
  for (const [name, value, message] of [
    ['SCANNER_TOKEN', 'short', /SCANNER_TOKEN: must be at least 16 visible ASCII characters/],
    ['SCANNER_TOKEN', 'aaaaaaaaaaaaaaaa', /SCANNER_TOKEN: is guessable/],
    ['REFUND_CUTOFF_MS', '-1', /REFUND_CUTOFF_MS: /],
    ['REFUND_CUTOFF_MS', '1.5', /REFUND_CUTOFF_MS: /],
  ] as const)
    t.regex(t.throws(() => readConfig({ [name]: value }))!.message, message, `${name}=${value}`);
});
