/**
 * The physical limits of this machine for the HTTP scenarios: the smallest Koa
 * apps that do what usher's routes do at their cheapest. Started as a child
 * process by the bench: `node baselineServer.js <kind>`; prints its URL.
 *
 * - `koa-get`: a GET answering a small JSON body.
 * - `koa-post`: a POST that parses a small JSON body with `koa-bodyparser`, as the
 *   usher app does, and answers a small JSON body. `koa-post-successor`: the
 *   same with `@koa/bodyparser` (measured to choose between them).
 * - `node-get` / `node-post`: the same on bare `node:http`, for reference.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import koaBodyParser from 'koa-bodyparser';

const kind = process.argv[2] ?? 'koa-get';
const answer = { ok: true, scheduleId: 'spring-2027-05-01', seatNo: 17, price: 99_000 };

function koaApp(): Koa {
  const app = new Koa();
  if (kind === 'koa-post') app.use(koaBodyParser({ enableTypes: ['json'], jsonLimit: '16kb' }));
  if (kind === 'koa-post-successor')
    app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' }));
  app.use((ctx) => {
    ctx.status = ctx.method === 'POST' ? 201 : 200;
    ctx.body =
      ctx.method === 'POST'
        ? { ...answer, echo: (ctx.request as { body?: unknown }).body }
        : answer;
  });
  return app;
}

function nodeHandler(request: IncomingMessage, response: ServerResponse): void {
  const send = (status: number, body: unknown) => {
    const json = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    });
    response.end(json);
  };
  if (request.method !== 'POST') return send(200, answer);
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () =>
    send(201, { ...answer, echo: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
  );
}

const server = kind.startsWith('node-')
  ? createServer(nodeHandler)
  : createServer(koaApp().callback());
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address === 'object' && address)
    process.stdout.write(`listening http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
