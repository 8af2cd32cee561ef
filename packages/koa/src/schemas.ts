import { configBounds, MAX_ID_LENGTH, userIdProblem } from '@usher/engine';
import * as z from 'zod';
import 'zod-openapi';

/**
 * Every shape the API reads or writes, as zod schemas. Routes validate requests
 * with them, the OpenAPI document is generated from them, and the tests check
 * every response against them: one definition, no drift.
 */

const printable = /^[^\u0000-\u001f\u007f]+$/;

/** An opaque id: 1 to 128 printable characters. */
export const Id = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(printable, 'must not contain control characters');
/** A user id: the engine's one rule ({@link userIdProblem}), checked here so a refusal names the field. */
export const UserId = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .superRefine((value, ctx) => {
    const problem = userIdProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({
    description:
      'Unicode NFC; no control, format (bidi, zero-width, BOM), line-separator or noncharacter code points, no lone surrogates, no space at either end',
  });
const Timestamp = z.iso.datetime().meta({ description: 'ISO 8601, UTC' });
const Money = z.int().min(0).meta({ description: 'Integer minor units (e.g. KRW won)' });

export const IdempotencyKey = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII')
  .meta({ description: 'Retries with the same key replay the first successful answer' });

// Requests

export const IssueTokenBody = z
  .strictObject({ userId: UserId.optional() })
  .meta({ id: 'IssueTokenRequest' });
export const ReserveBody = z
  .strictObject({ scheduleId: Id, seatNo: z.int().min(1) })
  .meta({ id: 'ReserveRequest' });
export const PayBody = z.strictObject({ reservationId: Id }).meta({ id: 'PaymentRequest' });
export const chargeBody = (maxChargeAmount: number) =>
  z.strictObject({ amount: z.int().min(1).max(maxChargeAmount) }).meta({ id: 'ChargeRequest' });

export const ConcertParams = z.object({ concertId: Id });
export const ScheduleParams = z.object({ scheduleId: Id });
export const ReservationParams = z.object({ reservationId: Id });
export const UserParams = z.object({ userId: UserId });
export const ReservationListQuery = z.object({
  status: z
    .enum(['held', 'paid'])
    .optional()
    .meta({ description: 'Only live holds, or only paid tickets' }),
});

// Responses

export const QueueToken = z
  .object({
    token: z.string(),
    userId: z.string(),
    status: z.enum(['waiting', 'active', 'expired']),
    position: z.int().min(0).nullable().meta({
      description:
        '1-based rank among waiting tokens; 0 once active; null before the sale opens (places are drawn at opensAt)',
    }),
    estimatedWaitSeconds: z.int().min(0).meta({
      description:
        'Before the opening: the time until it, plus the expected wait from the middle of the crowd',
    }),
    issuedAt: Timestamp,
    expiresAt: Timestamp.meta({
      description:
        'Waiting: abandoned unless polled by then. Active: end of the active period. Expired with a reason: until when it is still answered.',
    }),
    opensAt: Timestamp.optional().meta({
      description: 'Waiting before the sale opens (position null): when it opens',
    }),
    reason: z
      .enum(['sold_out'])
      .optional()
      .meta({ description: 'Expired: why (sold_out: nothing is left to sell)' }),
    pass: z
      .string()
      .optional()
      .meta({
        description:
          'Active: a compact JWS (JWT, EdDSA, the pass `kid` of `GET /.well-known/jwks.json`) over `{ sub, room, jti, iat, exp }`, `exp` this `expiresAt`. ' +
          'Any site verifies it offline with the JWKS: this user was admitted to `room` until `exp` (SPEC §12).',
      }),
  })
  .meta({ id: 'QueueToken' });

export const Concert = z
  .object({
    id: z.string(),
    title: z.string(),
    artist: z.string().optional(),
    venue: z.string().optional(),
  })
  .meta({ id: 'Concert' });
export const ConcertList = z.object({ concerts: z.array(Concert) }).meta({ id: 'ConcertList' });

export const Schedule = z
  .object({
    id: z.string(),
    concertId: z.string(),
    startsAt: z.string().meta({ description: 'ISO 8601' }),
    totalSeats: z.int().min(1),
    availableSeats: z.int().min(1),
  })
  .meta({ id: 'Schedule' });
export const ScheduleList = z.object({ schedules: z.array(Schedule) }).meta({ id: 'ScheduleList' });

export const Seat = z.object({ seatNo: z.int().min(1), price: Money }).meta({ id: 'Seat' });
export const SeatList = z
  .object({ scheduleId: z.string(), seats: z.array(Seat) })
  .meta({ id: 'SeatList' });

export const Reservation = z
  .object({
    id: z.string(),
    userId: z.string(),
    scheduleId: z.string(),
    seatNo: z.int().min(1),
    price: Money,
    status: z.enum(['held', 'paid', 'expired', 'cancelled']),
    createdAt: Timestamp,
    expiresAt: Timestamp,
  })
  .meta({ id: 'Reservation' });

export const ReservationList = z
  .object({ reservations: z.array(Reservation) })
  .meta({ id: 'ReservationList' });

export const Payment = z
  .object({
    id: z.string(),
    reservationId: z.string(),
    userId: z.string(),
    amount: Money,
    balance: Money.meta({ description: 'Balance after the payment' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'Payment' });

/** `GET /queue/tokens/current/events`: Server-Sent Events text, each event's `data` a QueueToken. */
export const TokenEvents = z.string().meta({
  description:
    'Server-Sent Events (text/event-stream): `retry: 2000`, then `event: token` with `data:` a QueueToken (JSON, see QueueToken) at once and at every change, comment lines (`:`) to keep the connection open',
});

export const Wallet = z.object({ userId: z.string(), balance: Money }).meta({ id: 'Wallet' });
export const Jwk = z
  .object({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    x: z.string().meta({ description: 'The public key, base64url' }),
    kid: z.string().meta({ description: '`pass-…` signs passes, `ticket-…` ticket codes' }),
    alg: z.literal('EdDSA'),
    use: z.literal('sig'),
  })
  .meta({ id: 'Jwk' });
export const Jwks = z
  .object({
    keys: z.array(Jwk).meta({
      description:
        'The keys that sign now, first, and those of earlier keys whose signatures still verify',
    }),
  })
  .meta({ id: 'Jwks' });

export const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const Ready = z.object({ status: z.literal('ready') }).meta({ id: 'Ready' });
export const OpenApiDocument = z
  .looseObject({ openapi: z.literal('3.1.0') })
  .meta({ id: 'OpenApiDocument' });

export const Problem = z
  .object({
    type: z.string().meta({ description: 'URI reference identifying the problem type' }),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string(),
    code: z.string().meta({ description: 'Stable, machine-readable code (see the error table)' }),
    position: z
      .int()
      .min(1)
      .nullable()
      .optional()
      .meta({ description: 'TOKEN_NOT_ACTIVE: the place in line (null before the sale opens)' }),
    estimatedWaitSeconds: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'TOKEN_NOT_ACTIVE: expected wait' }),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'VALIDATION_FAILED: what is wrong, field by field' }),
    reason: z
      .enum(['missing', 'malformed', 'expired', 'wrong', 'replayed'])
      .optional()
      .meta({ description: 'CHALLENGE_FAILED: why the proof of work was refused' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

// The operator's room (SPEC §9)

/** An instant with its offset (`2027-05-01T10:00:00+09:00` or `…Z`), kept as the same instant in UTC. */
const Instant = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value).toISOString())
  .meta({ description: 'ISO 8601 with an offset or Z; answered in UTC' });

export const RoomSettingsPatch = z
  .strictObject({
    paused: z
      .boolean()
      .optional()
      .meta({ description: 'true: nobody is admitted until it is false again' }),
    admitPerTick: z
      .int()
      .min(configBounds.queueAdmitPerTick.min)
      .max(configBounds.queueAdmitPerTick.max)
      .optional()
      .meta({ description: 'Tokens admitted per tick at most' }),
    maxActive: z
      .int()
      .min(configBounds.queueMaxActive.min)
      .max(configBounds.queueMaxActive.max)
      .optional()
      .meta({
        description:
          'Active tokens at most; lowering it throws nobody out, it admits nobody until under it',
      }),
    opensAt: Instant.nullable().optional().meta({
      description:
        'When the sale opens (null: open now). Before it nobody is admitted and positions are null',
    }),
    shuffle: z.boolean().optional().meta({
      description: 'At opensAt, put everyone who joined before it in a uniformly random order',
    }),
  })
  .refine((patch) => Object.keys(patch).length > 0, {
    message: 'name at least one of paused, admitPerTick, maxActive, opensAt, shuffle',
  })
  .meta({ id: 'RoomSettingsPatch' });

export const Room = z
  .object({
    paused: z.boolean(),
    admitPerTick: z.int().min(1),
    maxActive: z.int().min(1),
    opensAt: z.string().nullable().meta({ description: 'ISO 8601, UTC; null when open' }),
    shuffle: z.boolean(),
    waiting: z.int().min(0),
    active: z.int().min(0),
    admittedTotal: z.int().min(0).meta({ description: 'Tokens ever admitted' }),
  })
  .meta({ id: 'Room' });

export const MetricsText = z
  .string()
  .meta({ id: 'PrometheusText', description: 'Prometheus text exposition format 0.0.4' });

// Proof of work (ALTCHA)

export const Challenge = z
  .object({
    algorithm: z.literal('SHA-256'),
    challenge: z.string().meta({ description: 'hex SHA-256 of salt + the secret number' }),
    maxnumber: z.int().min(1).meta({ description: 'The number is in [0, maxnumber]' }),
    salt: z.string(),
    signature: z.string().meta({ description: 'HMAC of the challenge' }),
  })
  .meta({
    id: 'Challenge',
    description:
      'An ALTCHA challenge (the v1 protocol of altcha-lib and the ALTCHA widget): find n in [0, maxnumber] with hex(SHA-256(salt + n)) = challenge, ' +
      'then send base64(JSON {algorithm, challenge, number: n, salt, signature}) as the `X-Challenge` header of `POST /queue/tokens`.',
  });

export const ChallengeHeader = z.string().max(4_096).meta({
  description:
    'A solved challenge of `GET /queue/challenge`: base64 of the JSON {algorithm, challenge, number, salt, signature}; good once, until it expires',
});
