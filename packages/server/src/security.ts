import cors from '@koa/cors';
import { CHALLENGE_HEADER, REPLAYED_HEADER, REQUEST_ID_HEADER } from '@usher/koa';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { Middleware } from 'koa';

/**
 * Security headers on every answer, the page, the API docs and the API alike
 * (helmet's defaults: a Content-Security-Policy that allows scripts, styles,
 * fonts and connections from this origin only and no inline scripts,
 * `X-Content-Type-Options: nosniff`, `X-Frame-Options: SAMEORIGIN`,
 * `Referrer-Policy: no-referrer`, HSTS, cross-origin isolation headers).
 * Changes: no inline styles either and fonts from this origin only (the page
 * and Swagger UI need nothing else),
 * and no `upgrade-insecure-requests`, since the server speaks plain HTTP (TLS
 * ends at a proxy, if any): it would make a browser fetch the page's own
 * script over HTTPS when the page is opened by a LAN address.
 */
export function securityHeaders(): Middleware {
  const headers = helmetHeaders({
    contentSecurityPolicy: {
      directives: {
        fontSrc: ["'self'", 'data:'],
        styleSrc: ["'self'"],
        upgradeInsecureRequests: null,
      },
    },
  });
  // Every header is the same on every answer: computed once here, set as they are (helmet would
  // run its dozen middlewares again on each request, through a promise per request).
  return (ctx, next) => {
    const response = ctx.res;
    for (const [name, value] of headers) response.setHeader(name, value);
    if (response.hasHeader('X-Powered-By')) response.removeHeader('X-Powered-By');
    return next();
  };
}

/** The headers helmet sets with `options`, read once from a response it writes them to. */
function helmetHeaders(options: Parameters<typeof helmet>[0]): [string, string][] {
  const headers: [string, string][] = [];
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers.push([name, String(value)]);
    },
    removeHeader: () => undefined,
    getHeader: () => undefined,
  };
  let error: unknown = 'helmet did not finish synchronously';
  helmet(options)(
    {} as IncomingMessage,
    response as unknown as ServerResponse,
    (failed?: unknown) => (error = failed),
  );
  if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
  return headers;
}

/**
 * Cross-origin requests (CORS) from the front ends at `origins`
 * (`CORS_ORIGINS`), exact origins such as `https://shop.example`; `undefined`
 * when there are none: CORS stays off and browsers keep other sites' pages
 * from reading the API's answers. Credentials are not allowed: the queue token
 * travels in `Authorization`, not in a cookie.
 */
export function crossOrigin(origins: readonly string[]): Middleware | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  return cors({
    origin: (ctx) => (allowed.has(ctx.get('Origin')) ? ctx.get('Origin') : ''),
    allowMethods: ['GET', 'POST', 'DELETE'],
    allowHeaders: [
      'Authorization',
      'Content-Type',
      'Idempotency-Key',
      CHALLENGE_HEADER,
      REQUEST_ID_HEADER,
      'If-None-Match',
    ],
    exposeHeaders: [
      REPLAYED_HEADER,
      REQUEST_ID_HEADER,
      'Retry-After',
      'WWW-Authenticate',
      'Allow',
      'ETag',
    ],
    maxAge: 600,
  });
}
