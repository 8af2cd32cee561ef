import type { ProblemCode } from './errors.js';
import type { Route } from './routes.js';

/**
 * With `resolveUserId`, the requests that act for a user: those carrying a
 * queue token (it must be the signed-in user's), joining the queue (the
 * one such route without a token), and the ticket routes (with or without one). Only these ask the host who the user is;
 * `/health`, the catalog, the OpenAPI document and the like never do.
 */
export function actsForUser(route: Route, token: string): boolean {
  // Tickets (SPEC §11) outlive the waiting room: signed in, no queue token is needed.
  if (route.user) return true;
  return route.bearer ? token !== '' : route.operationId === 'issueToken';
}

/** What a route acting for a user may answer when the host application identifies users. */
export const identityProblems: readonly ProblemCode[] = [
  'IDENTITY_MISSING',
  'IDENTITY_INVALID',
  'FORBIDDEN',
];
