import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

test('the custom-auth example: the host signs people in, usher takes the user from it and refuses strangers', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, main]);
  t.regex(stdout, /ann +GET \/tickets\/concerts, not signed in +→ 401\n/);
  t.regex(stdout, /ann +POST \/tickets\/queue\/tokens \(no body\) +→ 201\n/);
  t.regex(stdout, /the token is for user-ann/);
  t.regex(stdout, /ann +POST \/tickets\/reservations seat 5 +→ 201\n/);
  t.regex(stdout, /ann +POST \/tickets\/payments +→ 201\n/);
  t.regex(stdout, /mallory +POST \/tickets\/queue\/tokens as "user-ann" +→ 403 FORBIDDEN/);
  t.regex(stdout, /mallory +GET \/tickets\/reservations\/:id, ann's token +→ 403 FORBIDDEN/);
  t.regex(stdout, /mallory +GET \/tickets\/openapi.json \(public\) +→ 200/);
});
