import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSite } from './site.js';

// USHER_URL: usher's address; ROOM: the room this site stands behind; PUBLIC_URL: this site's own
// address (default http://HOST:PORT); PORT 0 picks a free one.
const usherUrl = process.env['USHER_URL'] ?? 'http://127.0.0.1:3000';
const room = process.env['ROOM'] ?? 'default';
const host = process.env['HOST'] ?? '127.0.0.1';
const server = createServer();
server.listen(Number(process.env['PORT'] ?? 4000), host, () => {
  const { port } = server.address() as AddressInfo;
  const publicUrl = process.env['PUBLIC_URL'] ?? `http://${host}:${port}`;
  server.on('request', createSite({ usherUrl, room, publicUrl }));
  console.log(JSON.stringify({ msg: 'protected site listening', url: publicUrl, usherUrl, room }));
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
