import { isEngineError, type EngineErrorCode, type EngineErrorDetails } from '@usher/engine';
import type { Context, Middleware } from 'koa';

/** Codes only the HTTP layer raises. */
export type HttpErrorCode =
  | 'IDENTITY_MISSING'
  | 'IDENTITY_INVALID'
  | 'ADMIN_TOKEN_INVALID'
  | 'SCANNER_TOKEN_INVALID'
  | 'CHALLENGE_FAILED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INTERNAL_ERROR';
export type ProblemCode = EngineErrorCode | HttpErrorCode;

/**
 * The one table from error codes to HTTP: every engine code must appear (the
 * type checker enforces it), and nothing else maps codes to statuses.
 */
export const problemTable = {
  VALIDATION_FAILED: { status: 400, title: 'Invalid request' },
  CHALLENGE_FAILED: { status: 400, title: 'Proof of work missing or wrong' },
  CODE_INVALID: { status: 400, title: 'Presale code unknown or spent' },
  TOKEN_MISSING: { status: 401, title: 'Queue token missing' },
  TOKEN_INVALID: { status: 401, title: 'Queue token unknown or expired' },
  IDENTITY_MISSING: { status: 401, title: 'Not signed in' },
  IDENTITY_INVALID: { status: 401, title: 'Sign-in unknown or expired' },
  ADMIN_TOKEN_INVALID: { status: 401, title: 'Operator token missing or wrong' },
  SCANNER_TOKEN_INVALID: { status: 401, title: 'Scanner token missing or wrong' },
  TICKET_INVALID: { status: 400, title: 'Not a ticket code' },
  TOKEN_NOT_ACTIVE: { status: 403, title: 'Still waiting in line' },
  FORBIDDEN: { status: 403, title: 'Not yours' },
  TOKEN_WRONG_ROOM: { status: 403, title: 'Token of another room' },
  CONCERT_NOT_FOUND: { status: 404, title: 'Concert not found' },
  SCHEDULE_NOT_FOUND: { status: 404, title: 'Date not found' },
  SEAT_NOT_FOUND: { status: 404, title: 'Seat not found' },
  RESERVATION_NOT_FOUND: { status: 404, title: 'Reservation not found' },
  NOT_FOUND: { status: 404, title: 'No such route' },
  ROOM_NOT_FOUND: { status: 404, title: 'Room not found' },
  TICKET_NOT_FOUND: { status: 404, title: 'Ticket not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  CATEGORY_NOT_FOUND: { status: 404, title: 'Category not found' },
  SEAT_UNAVAILABLE: { status: 409, title: 'Seat unavailable' },
  SEATS_UNAVAILABLE: { status: 409, title: 'No seats as asked' },
  HOLD_LIMIT_REACHED: { status: 409, title: 'Too many holds' },
  TICKET_LIMIT_REACHED: { status: 409, title: 'Too many tickets' },
  HOLD_EXPIRED: { status: 409, title: 'Hold no longer held' },
  EXTENSION_LIMIT: { status: 409, title: 'Hold extended too often' },
  ALREADY_PAID: { status: 409, title: 'Already paid' },
  INSUFFICIENT_BALANCE: { status: 409, title: 'Balance too low' },
  BALANCE_LIMIT: { status: 409, title: 'Balance limit reached' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, title: 'Idempotency key reused' },
  ALREADY_CHECKED_IN: { status: 409, title: 'Already checked in' },
  TICKET_VOID: { status: 409, title: 'Ticket refunded or transferred' },
  REFUND_CLOSED: { status: 409, title: 'Refunds closed' },
  WAITLIST_NOT_FOUND: { status: 404, title: 'Not on the waitlist' },
  SEATS_AVAILABLE: { status: 409, title: 'Seats for sale' },
  WAITLIST_JOINED: { status: 409, title: 'Already on the waitlist' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Body too large' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error' },
  SHUTTING_DOWN: { status: 503, title: 'Shutting down' },
  UNAVAILABLE: { status: 503, title: 'Unavailable' },
} as const satisfies Record<ProblemCode, { status: number; title: string }>;

/** An error raised by the HTTP layer itself, with the same shape of answer as an engine error. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  readonly code: ProblemCode;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: ProblemCode,
    detail: string,
    options: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

export interface ProblemAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: {
    type: string;
    title: string;
    status: number;
    detail: string;
    code: ProblemCode;
  } & Record<string, unknown>;
  /** Not a refusal but a fault: log it. */
  readonly unexpected: boolean;
}

const kebab = (code: string) => code.toLowerCase().replaceAll('_', '-');

/** Turns any thrown value into an RFC 9457 answer. Only refusals (4xx, 503) say why; faults say nothing. */
export function toProblem(error: unknown, typeBase: string): ProblemAnswer {
  let code: ProblemCode;
  let detail: string;
  let extra: Record<string, unknown> = {};
  let headers: Record<string, string> = {};
  let unexpected = false;
  if (isEngineError(error) && Object.hasOwn(problemTable, error.code)) {
    code = error.code;
    detail = error.message;
    extra = detailsOf(error.details);
  } else if (error instanceof HttpProblem) {
    ({ code, extra, headers } = error);
    detail = error.message;
  } else if (isClientHttpError(error)) {
    // Thrown by the body parser: too large, malformed JSON, unsupported charset.
    code = error.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION_FAILED';
    detail =
      code === 'PAYLOAD_TOO_LARGE'
        ? 'the body is over the size limit'
        : `the body is not valid JSON: ${error.message}`;
  } else {
    code = 'INTERNAL_ERROR';
    detail = 'something went wrong on our side; it has been logged';
    unexpected = true;
  }
  const { status, title } = problemTable[code];
  if (status === 401) headers = { ...headers, 'WWW-Authenticate': 'Bearer' };
  if (status === 503) headers = { ...headers, 'Retry-After': '5', Connection: 'close' };
  return {
    status,
    headers,
    body: { type: `${typeBase}${kebab(code)}`, title, status, detail, code, ...extra },
    unexpected,
  };
}

function detailsOf(details: EngineErrorDetails): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (details.position !== undefined) extra.position = details.position;
  if (details.estimatedWaitSeconds !== undefined)
    extra.estimatedWaitSeconds = details.estimatedWaitSeconds;
  if (details.seatNos !== undefined) extra.seatNos = details.seatNos;
  if (details.checkedInAt !== undefined) extra.checkedInAt = details.checkedInAt;
  return extra;
}

function isClientHttpError(error: unknown): error is Error & { status: number } {
  const status = (error as { status?: unknown } | null)?.status;
  return error instanceof Error && typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * The one error path: whatever a later middleware throws becomes a problem+json
 * answer. Faults are emitted as the app's `error` event (Koa's convention for
 * logging) and answered as a bare 500, with no message or stack.
 */
export function problems(typeBase: string): Middleware {
  // No async frame: the chain's promise with a rejection handler (koa-compose turns a throw into a rejection).
  return (ctx: Context, next) =>
    next().then(undefined, (error: unknown) => {
      const problem = toProblem(error, typeBase);
      if (problem.unexpected) ctx.app.emit('error', error, ctx);
      ctx.status = problem.status;
      ctx.set(problem.headers);
      ctx.type = 'application/problem+json';
      ctx.body = JSON.stringify(problem.body);
    });
}
