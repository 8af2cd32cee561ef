import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface SiteOptions {
  /** usher's address, e.g. `https://queue.example.com`: its page, and its keys at `/.well-known/jwks.json`. */
  readonly usherUrl: string;
  /** The waiting room this site stands behind: a pass of another room is refused. */
  readonly room: string;
  /** This site's own address as visitors see it (usher sends them back there; its origin must be in usher's PASS_RETURN_ORIGINS). */
  readonly publicUrl: string;
}

/** The cookie that keeps the pass (it is verified again at every request: no session store). */
export const COOKIE = 'site_pass';
/** The query parameter usher's page brings the pass back in. */
export const PASS_PARAMETER = 'usher_pass';

/**
 * Verifies a pass offline: signed by a key of usher's JWKS (fetched once and
 * cached by jose, refetched for an unknown `kid`), not expired, for `room`.
 * Answers the claims, or throws with why not.
 */
export function passVerifier(
  usherUrl: string,
  room: string,
): (pass: string) => Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', usherUrl));
  return async (pass) => {
    const { payload } = await jwtVerify(pass, jwks, {
      algorithms: ['EdDSA'],
      requiredClaims: ['sub', 'room', 'exp'],
    });
    if (payload['room'] !== room)
      throw new Error(`the pass is for room ${String(payload['room'])}, not ${room}`);
    return payload;
  };
}

/**
 * The protected site: a visitor with a good pass (cookie) sees the page; one
 * coming back from usher with `?usher_pass=` gets the cookie (if the pass
 * verifies) and is sent on to the clean address; anyone else goes to usher's
 * page with `?room=&return=`. A pass that does not verify is refused (403),
 * saying why.
 */
export function createSite(options: SiteOptions): RequestListener {
  const verify = passVerifier(options.usherUrl, options.room);
  const waitingRoom = (here: URL): string => {
    const url = new URL('/', options.usherUrl);
    url.searchParams.set('room', options.room);
    url.searchParams.set('return', here.href);
    return url.href;
  };
  return (request, response) => {
    void handle(request, response).catch((error: unknown) => {
      console.error(error);
      if (!response.headersSent) send(response, 500, page('Error', 'Something went wrong.'));
    });
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // On this site's own origin whatever the request target (`//evil.example/x` would resolve to another host).
    const asked = new URL(request.url ?? '/', 'http://request.invalid');
    const here = new URL(options.publicUrl);
    here.pathname = asked.pathname;
    here.search = asked.search;
    const returned = here.searchParams.get(PASS_PARAMETER);
    if (returned !== null) {
      here.searchParams.delete(PASS_PARAMETER);
      let claims: JWTPayload;
      try {
        claims = await verify(returned);
      } catch (error) {
        return send(
          response,
          403,
          page(
            'Pass refused',
            `Your pass was refused: ${reason(error)}.`,
            `<a href="${escape(waitingRoom(here))}">Join the waiting room</a>`,
          ),
        );
      }
      const maxAge = Math.max(0, (claims.exp ?? 0) - Math.floor(Date.now() / 1000));
      response.setHeader(
        'Set-Cookie',
        `${COOKIE}=${returned}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${here.protocol === 'https:' ? '; Secure' : ''}`,
      );
      // One leading slash only: a path like `//evil.example` (from `/.//evil.example`) is another host to a browser.
      response.writeHead(303, { Location: here.pathname.replace(/^\/+/, '/') + here.search });
      return void response.end();
    }
    const kept = cookie(request, COOKIE);
    const claims = kept === undefined ? undefined : await verify(kept).catch(() => undefined);
    if (claims === undefined) {
      response.writeHead(302, { Location: waitingRoom(here) });
      return void response.end();
    }
    send(
      response,
      200,
      page(
        'Welcome in',
        `Welcome, ${escape(String(claims.sub))}: you were admitted to room ${escape(options.room)}.`,
        `<p>Your pass is good until ${new Date((claims.exp ?? 0) * 1000).toISOString()}.</p>`,
      ),
    );
  }
}

function reason(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'its signature is not usher’s';
  if (error instanceof errors.JWKSNoMatchingKey) return 'it was not signed by a key of usher’s';
  if (error instanceof errors.JOSEError) return `it is not a valid pass (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function send(response: ServerResponse, status: number, html: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  response.end(html);
}

function page(title: string, message: string, more = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1><p data-testid="message">${message}</p>${more}</main></body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
