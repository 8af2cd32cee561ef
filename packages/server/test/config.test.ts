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
