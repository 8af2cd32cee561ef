import test from 'ava';
import { readConfig } from '../src/config.js';

test('numbers in the environment are digits only: empty, signed, fractional, exponent, hex or padded values are refused, naming the variable', (t) => {
  for (const value of ['', ' ', '-1', '1.5', '1e3', '0x10', ' 5 ', '5ms']) {
    for (const name of ['PORT', 'MAX_CONNECTIONS_PER_ADDRESS', 'HOLD_TTL_MS', 'STREAM_MAX_LIFETIME_MS']) {
      const error = t.throws(() => readConfig({ [name]: value }), undefined, `${name}=${JSON.stringify(value)}`);
      t.regex(error!.message, new RegExp(`${name}: must be a whole number`), `${name}=${JSON.stringify(value)}`);
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
  t.deepEqual(readConfig({}).engine, {}, 'nothing set, nothing passed: a new engine default is the server default too');
  t.deepEqual(readConfig({ HOLD_TTL_MS: '60000', MAX_HOLDS_PER_USER: '2' }).engine, { holdTtlMs: 60_000, maxHoldsPerUser: 2 });
});

test('LOG_LEVEL is checked with the rest of the environment, naming it', (t) => {
  const error = t.throws(() => readConfig({ LOG_LEVEL: 'verbose' }));
  t.regex(error!.message, /^bad environment: LOG_LEVEL: /);
});

test('a variable that looks like one of usher’s but is none is a warning naming it (and the one it resembles)', (t) => {
  const { warnings } = readConfig({ HOLD_TTL: '1000', QUEUE_SIZE: '5', DATADIR: './x', PROT: '3001', LOGLEVEL: 'debug' });
  t.deepEqual(warnings, [
    'DATADIR is not a setting of usher and is ignored (did you mean DATA_DIR?)',
    'HOLD_TTL is not a setting of usher and is ignored (did you mean HOLD_TTL_MS?)',
    'LOGLEVEL is not a setting of usher and is ignored (did you mean LOG_LEVEL?)',
    'PROT is not a setting of usher and is ignored (did you mean PORT?)',
    'QUEUE_SIZE is not a setting of usher and is ignored',
  ]);
});

test('the usual variables of a process are not usher’s business', (t) => {
  const ambient = { HOME: '/root', HOSTNAME: 'box', HOSTTYPE: 'x86_64', PATH: '/bin', PWD: '/', TERM: 'xterm', USER: 'ann', LANG: 'C', HTTP_PROXY: 'http://proxy', HTTPS_PROXY: 'http://proxy', NODE_ENV: 'production', CI: 'true', LOGNAME: 'ann', SHELL: '/bin/sh', TMPDIR: '/tmp', GITHUB_TOKEN: 'x' };
  t.deepEqual(readConfig(ambient).warnings, []);
});
