import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { send } from '@koa/send';
import type { Middleware } from 'koa';

/** Swagger UI's files, from the `swagger-ui-dist` package: served from here, never from a CDN. */
const swaggerUi = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
/** The page that starts Swagger UI on `/openapi.json` (no inline script: the Content-Security-Policy allows none). */
const ownFiles = fileURLToPath(new URL('../docs/', import.meta.url));

/** Each path the docs answer, and the file behind it. */
const files = new Map<string, { root: string; file: string }>([
  ['/docs', { root: ownFiles, file: 'index.html' }],
  ['/docs/docs.js', { root: ownFiles, file: 'docs.js' }],
  ['/docs/swagger-ui.css', { root: swaggerUi, file: 'swagger-ui.css' }],
  ['/docs/swagger-ui-bundle.js', { root: swaggerUi, file: 'swagger-ui-bundle.js' }],
  ['/docs/favicon-32x32.png', { root: swaggerUi, file: 'favicon-32x32.png' }],
]);

/**
 * The API docs at `/docs`: Swagger UI on the API's own OpenAPI document
 * (`GET /openapi.json`), every asset from this server. A fixed set of paths:
 * other requests never touch the disk.
 */
export function apiDocs(): Middleware {
  return (ctx, next) => {
    const target =
      ctx.method === 'GET' || ctx.method === 'HEAD'
        ? files.get(ctx.path === '/docs/' ? '/docs' : ctx.path)
        : undefined;
    if (target === undefined) return next();
    ctx.state.route = ctx.path === '/docs/' ? '/docs' : ctx.path;
    return send(ctx, target.file, { root: target.root, maxage: 3_600_000 }).then(() => undefined);
  };
}
