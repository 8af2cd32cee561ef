/** Side by side in one run: GET, POST with each body parser, bare node:http. `node compareBodyParsers.js [seconds]` */
import { fileURLToPath } from 'node:url';
import { load, startServer, stopServer } from './load.js';

const seconds = Number(process.argv[2] ?? 5);
const script = fileURLToPath(new URL('./baselineServer.js', import.meta.url));
const body = JSON.stringify({ scheduleId: 'spring-2027-05-01', seatNo: 17 });
const kinds =
  process.argv.slice(3).length > 0
    ? process.argv.slice(3)
    : ['koa-get', 'koa-post', 'koa-post-successor', 'node-get', 'node-post'];
for (const kind of kinds) {
  const { url, child } = await startServer(script, [kind]);
  const post = kind.includes('post');
  const result = await load({
    url,
    duration: seconds,
    ...(post
      ? { method: 'POST' as const, body, headers: { 'content-type': 'application/json' } }
      : {}),
  });
  await stopServer(child);
  process.stdout.write(
    `${kind.padEnd(24)} ${String(result.requestsPerSecond).padStart(7)} req/s  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  non2xx ${result.non2xx}\n`,
  );
}
