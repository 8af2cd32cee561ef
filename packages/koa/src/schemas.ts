import { configBounds, MAX_ID_LENGTH, userIdProblem } from '@usher/engine';
import { MAX_CODE_LENGTH, MAX_CODES_PER_REQUEST } from '@usher/engine/rules';
import { MAX_TICKET_CODE_LENGTH } from '@usher/engine/signing';
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
  .strictObject({
    userId: UserId.optional(),
    concertId: Id.optional().meta({
      description:
        "Joins this concert's room (its own, or the default room); without it, the default room",
    }),
    code: z.string().min(1).max(MAX_CODE_LENGTH).optional().meta({
      description:
        "A presale code of the concert's room: the new token goes to the head of the line, and the code is spent",
    }),
  })
  .meta({ id: 'IssueTokenRequest' });
/** A category (price tier name): 1 to 50 printable characters. */
const Category = z.string().min(1).max(50).regex(printable, 'must not contain control characters');

/**
 * `POST /reservations` (SPEC §10): exactly one of `seatNo` (one seat),
 * `seatNos` (1 to `maxSeatsPerOrder` distinct seats, all or none) or
 * `quantity` (best available, with optional `category` and `together`).
 */
export const reserveBody = (maxSeatsPerOrder: number) =>
  z
    .strictObject({
      scheduleId: Id,
      seatNo: z.int().min(1).optional().meta({ description: 'One seat' }),
      seatNos: z
        .array(z.int().min(1))
        .min(1)
        .max(maxSeatsPerOrder)
        .optional()
        .meta({ description: 'Several distinct seats, held all together or none' }),
      quantity: z
        .int()
        .min(1)
        .max(maxSeatsPerOrder)
        .optional()
        .meta({ description: 'Best available: how many seats the engine picks' }),
      category: Category.optional().meta({
        description: 'With quantity: only seats of the price tier of this name',
      }),
      together: z.boolean().optional().meta({
        description:
          'With quantity: consecutive seats of one row (default true); false takes the lowest free seats',
      }),
    })
    .superRefine((body, ctx) => {
      const given = (['seatNo', 'seatNos', 'quantity'] as const).filter(
        (field) => body[field] !== undefined,
      );
      if (given.length !== 1)
        ctx.addIssue({
          code: 'custom',
          path: given.length === 0 ? [] : [given[1]!],
          message: 'give exactly one of seatNo, seatNos or quantity',
        });
      for (const field of ['category', 'together'] as const)
        if (body[field] !== undefined && body.quantity === undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: 'goes with quantity only' });
      if (body.seatNos && new Set(body.seatNos).size !== body.seatNos.length)
        ctx.addIssue({ code: 'custom', path: ['seatNos'], message: 'must not repeat a seat' });
    })
    .meta({
      id: 'ReserveRequest',
      description:
        'Exactly one of seatNo (one seat), seatNos (several, all or none) or quantity (best available: ' +
        'the block of consecutive free seats of one row, of the category if given, with the lowest first seat)',
    });
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
    room: z.string().meta({
      description:
        "The room it was issued for: the id of a concert with a room of its own, or `default`. It admits to that room's concerts only",
    }),
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
    room: z.string().optional().meta({
      description:
        "Its own room (join with this concertId; its id is the concert's); absent: the default room",
    }),
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
    seatsPerRow: z.int().min(1).optional().meta({
      description: 'Seats per row, when the date has rows: row 1 is seats 1..k, row 2 k+1..2k, …',
    }),
  })
  .meta({ id: 'Schedule' });
export const ScheduleList = z.object({ schedules: z.array(Schedule) }).meta({ id: 'ScheduleList' });

export const Seat = z
  .object({
    seatNo: z.int().min(1),
    price: Money,
    category: z
      .string()
      .optional()
      .meta({ description: "The seat's price tier name, if it has one" }),
  })
  .meta({ id: 'Seat' });
export const ReservationSeat = z
  .object({ seatNo: z.int().min(1), price: Money, category: z.string().optional() })
  .meta({ id: 'ReservationSeat' });
export const SeatList = z
  .object({ scheduleId: z.string(), seats: z.array(Seat) })
  .meta({ id: 'SeatList' });

export const Reservation = z
  .object({
    id: z.string(),
    userId: z.string(),
    scheduleId: z.string(),
    seatNo: z.int().min(1).meta({ description: 'Its first (lowest) seat' }),
    price: Money.meta({ description: "Its first seat's price" }),
    seats: z.array(ReservationSeat).min(1).meta({ description: 'Every seat it holds, ascending' }),
    amount: Money.meta({ description: 'What paying costs: the sum of the seat prices' }),
    status: z.enum(['held', 'paid', 'expired', 'cancelled']),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    extensions: z
      .int()
      .min(0)
      .meta({ description: 'How many times the hold was extended (at most holdExtensions)' }),
    origin: z.literal('waitlist').optional().meta({
      description:
        "Offered from the date's waitlist (SPEC §11): paid, extended or cancelled with any known token of yours. Absent for a hold you took",
    }),
  })
  .meta({ id: 'Reservation' });

// The waitlist (SPEC §11)

export const waitlistBody = (maxSeatsPerOrder: number) =>
  z
    .strictObject({
      quantity: z
        .int()
        .min(1)
        .max(maxSeatsPerOrder)
        .optional()
        .meta({ description: 'Seats you wait for (default 1)' }),
    })
    .meta({ id: 'WaitlistRequest' });
export const WaitlistEntry = z
  .object({
    scheduleId: z.string(),
    userId: z.string(),
    position: z.int().min(1).meta({ description: 'Your place: 1 is next' }),
    quantity: z.int().min(1).meta({ description: 'Seats asked for' }),
    offered: z.int().min(0).meta({ description: 'Seats offered to you so far, as holds' }),
    joinedAt: Timestamp,
  })
  .meta({ id: 'WaitlistEntry' });
/** `GET /schedules/:id/waitlist/me/events`: Server-Sent Events text. */
export const WaitlistEvents = z.string().meta({
  description:
    'Server-Sent Events (text/event-stream): `retry: 2000`, then `event: waitlist` with `data:` a WaitlistEntry (JSON) at once and at every change, ' +
    '`event: reservation` with `data:` a Reservation offered to you, and last `event: waitlist` with `data: null` when the entry is gone; ' +
    'comment lines (`:`) keep the connection open',
});

/** `GET /order-limits`: what the page needs to know before it offers an order. */
export const OrderLimits = z
  .object({
    maxSeatsPerOrder: z.int().min(1),
    maxTicketsPerUser: z.int().min(1),
    maxHoldsPerUser: z.int().min(1),
    holdTtlMs: z.int().min(1),
    holdExtensionMs: z.int().min(1),
    holdExtensions: z.int().min(0),
  })
  .meta({ id: 'OrderLimits' });

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

// Tickets (SPEC §11)

export const TicketParams = z.object({ ticketId: Id });
export const TransferBody = z
  .strictObject({ toUserId: UserId.meta({ description: 'Who gets the ticket (not you)' }) })
  .meta({ id: 'TransferRequest' });
export const CheckInBody = z
  .strictObject({
    code: z.string().min(1).max(MAX_TICKET_CODE_LENGTH).meta({
      description: "The ticket's `code` as its QR code carries it",
    }),
  })
  .meta({ id: 'CheckInRequest' });

export const Ticket = z
  .object({
    id: z.string(),
    reservationId: z.string(),
    scheduleId: z.string(),
    concertId: z.string(),
    seatNo: z.int().min(1),
    price: Money.meta({ description: 'What was paid for the seat, and what a refund gives back' }),
    holder: z.string().meta({ description: 'The user it belongs to' }),
    status: z.enum(['valid', 'checked_in', 'refunded', 'transferred']),
    createdAt: Timestamp.meta({ description: 'Issued: the payment, or the transfer that made it' }),
    checkedInAt: Timestamp.optional(),
    refundedAt: Timestamp.optional(),
    transferredAt: Timestamp.optional(),
    code: z.string().meta({
      description:
        'Compact JWS (EdDSA, Ed25519, `kid` `ticket-…`) over `{ tid, sch, seat, sub }`: verify offline with `GET /.well-known/jwks.json`. ' +
        'Shown as a QR code; refused at the door once the ticket is refunded or transferred',
    }),
  })
  .meta({ id: 'Ticket' });
export const TicketList = z
  .object({ tickets: z.array(Ticket).meta({ description: 'Newest first, every status' }) })
  .meta({ id: 'TicketList' });
export const CheckIn = z
  .object({
    ticketId: z.string(),
    scheduleId: z.string(),
    seatNo: z.int().min(1),
    checkedInAt: Timestamp,
  })
  .meta({ id: 'CheckIn' });

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
    seatNos: z
      .array(z.int().min(1))
      .optional()
      .meta({ description: 'SEAT_UNAVAILABLE: the seats asked for that are taken' }),
    checkedInAt: Timestamp.optional().meta({
      description: 'ALREADY_CHECKED_IN: when the ticket was checked in',
    }),
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

export const RoomParams = z.object({ roomId: Id });

export const NamedRoom = Room.extend({
  id: z.string().meta({ description: '`default`, or the id of the concert it is the room of' }),
  soldOut: z
    .boolean()
    .meta({ description: 'Nothing is left to sell in its concerts (as of the last tick)' }),
}).meta({ id: 'NamedRoom' });

export const RoomList = z.object({ rooms: z.array(NamedRoom) }).meta({ id: 'RoomList' });

export const CreateCodesBody = z
  .strictObject({ count: z.int().min(1).max(MAX_CODES_PER_REQUEST) })
  .meta({ id: 'CreateCodesRequest' });

export const PresaleCodes = z
  .object({
    codes: z.array(z.string()).meta({
      description:
        'One-use codes, shown only in this answer (only their SHA-256 is stored): hand them out now',
    }),
  })
  .meta({ id: 'PresaleCodes' });

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
