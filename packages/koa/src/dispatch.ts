import type Router from '@koa/router';
import type { Layer } from '@koa/router';
import type { Context, Middleware } from 'koa';
import { HttpProblem } from './errors.js';
import type { Route } from './routes.js';

/**
 * The router's routes as one middleware, as `router.routes()` runs them, without its per-request
 * work: `routes()` tests every layer's regular expression, builds the lists of matched layers and a
 * composed chain of closures for each request. Here the layers are grouped by method once; a request
 * tests only its method's, in the router's order, and runs the first that matches with the same
 * context fields the router sets (`params`, `captures`, `routerPath`, `_matchedRoute`, ...). The
 * first is enough: a route's handler answers and never calls `next`. No route for the method and
 * path: `next()` (the app's own 404 and 405). A router with middleware of its own (`router.use`,
 * or a route of several middleware) is left to `routes()`.
 */
export function dispatch(router: Router): Middleware {
  const byMethod = new Map<string, Layer[]>();
  for (const layer of router.stack) {
    if (layer.methods.length === 0 || layer.stack.length !== 1)
      return router.routes() as unknown as Middleware;
    for (const method of layer.methods) {
      const layers = byMethod.get(method) ?? [];
      layers.push(layer);
      byMethod.set(method, layers);
    }
  }
  return (ctx, next) => {
    const context = ctx as typeof ctx & Record<string, unknown>;
    context.router = router;
    const layers = byMethod.get(ctx.method);
    if (layers !== undefined) {
      const path = ctx.path;
      for (const layer of layers) {
        if (!layer.match(path)) continue;
        const captures = layer.captures(path);
        const params = layer.params(path, captures, ctx.params as Record<string, string>);
        context.routeMatched = true;
        context.captures = captures;
        (ctx.request as { params?: unknown }).params = params;
        ctx.params = params;
        context.routerPath = layer.path;
        context.routerName = layer.name || undefined;
        context._matchedRoute = layer.path;
        if (layer.name) context._matchedRouteName = layer.name;
        return (layer.stack[0] as unknown as Middleware)(ctx, next);
      }
    }
    context.routeMatched = false;
    return next();
  };
}

/**
 * The methods a path takes, as the OpenAPI document declares them: those of its routes, and
 * `HEAD` only where a route says so. Nothing else is answered as a route, `OPTIONS` included
 * (a cross-origin preflight is for the host to answer: the server does, with `@koa/cors`).
 */
export function allowedMethods(
  router: Router,
  routes: readonly Route[],
): (path: string) => string[] {
  const withHead = new Set(routes.filter((route) => route.head).map((route) => route.path));
  return (path) => [
    ...new Set(
      router
        .match(path, 'GET')
        .path.flatMap((layer) =>
          layer.methods.filter((method) => method !== 'HEAD' || withHead.has(String(layer.path))),
        ),
    ),
  ];
}

/** 405 with the path's declared methods in `Allow`. */
export function notAllowed(ctx: Context, allowed: (path: string) => string[]): never {
  throw new HttpProblem('METHOD_NOT_ALLOWED', `${ctx.path} does not take ${ctx.method}`, {
    headers: { Allow: allowed(ctx.path).join(', ') },
  });
}
