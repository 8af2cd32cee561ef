/**
 * Every reason the engine refuses a command. The HTTP adapter maps each code to
 * a status in one table; the engine itself knows nothing of HTTP.
 */
export const engineErrorCodes = [
  'VALIDATION_FAILED',
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_NOT_ACTIVE',
  'FORBIDDEN',
  'CONCERT_NOT_FOUND',
  'SCHEDULE_NOT_FOUND',
  'SEAT_NOT_FOUND',
  'RESERVATION_NOT_FOUND',
  'SEAT_UNAVAILABLE',
  'SEATS_UNAVAILABLE',
  'CATEGORY_NOT_FOUND',
  'HOLD_LIMIT_REACHED',
  'TICKET_LIMIT_REACHED',
  'HOLD_EXPIRED',
  'EXTENSION_LIMIT',
  'ALREADY_PAID',
  'INSUFFICIENT_BALANCE',
  'BALANCE_LIMIT',
  'IDEMPOTENCY_KEY_REUSED',
  'TOKEN_WRONG_ROOM',
  'CODE_INVALID',
  'ROOM_NOT_FOUND',
  'TICKET_NOT_FOUND',
  'TICKET_INVALID',
  'TICKET_VOID',
  'ALREADY_CHECKED_IN',
  'REFUND_CLOSED',
  'SEATS_AVAILABLE',
  'WAITLIST_JOINED',
  'WAITLIST_NOT_FOUND',
  'SHUTTING_DOWN',
  'UNAVAILABLE',
] as const;

export type EngineErrorCode = (typeof engineErrorCodes)[number];

/** Extra facts some errors carry, e.g. the queue position with `TOKEN_NOT_ACTIVE`. */
export interface EngineErrorDetails {
  /** `null` before the room opens (places are drawn at the opening). With `WAITLIST_JOINED`: the entry's place on the waitlist. */
  readonly position?: number | null;
  readonly estimatedWaitSeconds?: number;
  /** With `SEAT_UNAVAILABLE`: the seats asked for that are held or paid. */
  readonly seatNos?: readonly number[];
  /** With `ALREADY_CHECKED_IN`: when the ticket was checked in, ISO 8601. */
  readonly checkedInAt?: string;
}

/**
 * The one error type of the engine. `code` is stable and meant for programs;
 * `message` is a sentence meant for people.
 *
 * @example
 * ```ts
 * try {
 *   await engine.reserve(token, { scheduleId, seatNo: 7 });
 * } catch (error) {
 *   if (error instanceof EngineError && error.code === 'SEAT_UNAVAILABLE') pickAnotherSeat();
 *   else throw error;
 * }
 * ```
 */
export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly details: EngineErrorDetails;

  constructor(
    code: EngineErrorCode,
    message: string,
    options: { cause?: unknown; details?: EngineErrorDetails } = {},
  ) {
    // A refusal is an answer, not a fault: it carries no stack trace. Capturing
    // one cost about a tenth of the server's CPU when most answers are refusals.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.details = options.details ?? {};
  }

  override get name(): string {
    return 'EngineError';
  }
}

/** Whether `error` is an {@link EngineError}, optionally with the given code. */
export function isEngineError(error: unknown, code?: EngineErrorCode): error is EngineError {
  return error instanceof EngineError && (code === undefined || error.code === code);
}
