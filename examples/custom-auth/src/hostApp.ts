import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { UsherEngine } from '@usher/engine';
import { createApp } from '@usher/koa';
import Koa from 'koa';
import mount from 'koa-mount';

/** What the host's own login puts on every request. */
interface HostState {
  user?: { id: string; name: string };
}

/**
 * An existing application with its own login (a session cookie) and its own
 * routes, selling tickets with usher under `/tickets`. usher never sees a
 * `userId` from the client: `resolveUserId` takes it from the host's session,
 * and every queue token must belong to the signed-in user.
 */
export function createHostApp(engine: UsherEngine): Koa<HostState> {
  const sessions = new Map<string, { id: string; name: string }>();
  const host = new Koa<HostState>();
  const routes = new Router<HostState>();

  routes.post('/login', async (ctx) => {
    const name = new URL(ctx.href).searchParams.get('name') ?? '';
    if (!/^[a-z]{2,20}$/.test(name)) ctx.throw(400, 'a name of 2 to 20 letters');
    const sid = randomUUID();
    sessions.set(sid, { id: `user-${name}`, name });
    ctx.cookies.set('sid', sid, { httpOnly: true, sameSite: 'lax' });
    ctx.status = 204;
  });
  routes.get('/me', (ctx) => {
    ctx.body = ctx.state.user ?? { signedIn: false };
  });

  // The host's authentication, in front of everything.
  host.use(async (ctx, next) => {
    const user = sessions.get(ctx.cookies.get('sid') ?? '');
    if (user) ctx.state.user = user;
    await next();
  });
  // The host's own rule: tickets are for signed-in users (the API's description stays public).
  host.use(async (ctx, next) => {
    const open = ctx.path === '/tickets/openapi.json' || ctx.path === '/tickets/health';
    if (ctx.path.startsWith('/tickets/') && !open && !ctx.state.user) {
      ctx.status = 401;
      ctx.body = { error: 'sign in first: POST /login?name=…' };
      return;
    }
    await next();
  });
  host.use(routes.routes());
  host.use(
    mount(
      '/tickets',
      createApp(engine, { resolveUserId: (ctx) => (ctx.state as HostState).user?.id }),
    ),
  );
  // Mounted, usher's faults are emitted by the host app: log them here.
  host.on('error', (error) => console.error('unexpected error', error));
  return host;
}
