import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import { exportJWK, generateKeyPair } from 'jose';

/**
 * An identity provider for a test: a fresh ES256 key pair, whose public key
 * (`kid: k1`) is served as a JWKS by a real HTTP server on 127.0.0.1, closed
 * when the test ends. Sign with `privateKey` and `{ alg: 'ES256', kid: 'k1' }`.
 */
export async function jwksProvider(
  t: ExecutionContext,
): Promise<{ readonly url: string; readonly privateKey: CryptoKey }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const jwks = createServer((_request, response) =>
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ keys: [jwk] })),
  );
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => jwks.close(() => resolve())));
  const { port } = jwks.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, privateKey };
}
