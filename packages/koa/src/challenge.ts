import { createChallenge, extractParams, verifySolution } from 'altcha-lib/v1';
import type { Challenge } from 'altcha-lib/v1/types';
import * as z from 'zod';
import { HttpProblem } from './errors.js';
import type { Telemetry } from './telemetry.js';

/** Where a client sends its solved challenge with `POST /queue/tokens`. */
export const CHALLENGE_HEADER = 'X-Challenge';

export interface ChallengeOptions {
  /** The HMAC key that signs challenges; every gateway that may verify a challenge needs the same one. */
  readonly hmacKey: string;
  /** The secret number is drawn from [0, maxNumber]: a client tries half of them on average. Default 50,000. */
  readonly maxNumber?: number;
  /** How long a challenge may be solved and used. Default 5 minutes. */
  readonly expiresInMs?: number;
}

/**
 * Spends a solution once (the engine's `spendChallenge`: durable, and shared by
 * every gateway of a PostgreSQL engine): `true` the first time.
 */
export type SpendOnce = (id: string, expiresAt: number) => Promise<boolean>;

/** What a client sends back: the challenge with the number it found. */
const Solution = z.object({
  algorithm: z.literal('SHA-256'),
  challenge: z.string().regex(/^[0-9a-f]{64}$/),
  number: z.int().min(0),
  salt: z.string().min(1).max(512),
  signature: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * A self-hosted proof of work before joining the line (SPEC §9), with the
 * ALTCHA protocol of `altcha-lib/v1` (what the ALTCHA widget speaks): the
 * client looks for the number whose SHA-256 with the salt is the challenge.
 * Issuing and checking are stateless (the challenge is signed and carries its
 * expiry); only used solutions are remembered, by the engine ({@link SpendOnce}),
 * until they expire: a restart or another gateway does not take one twice.
 */
export class ProofOfWork {
  readonly #hmacKey: string;
  readonly #maxNumber: number;
  readonly #expiresInMs: number;
  readonly #spend: SpendOnce;
  readonly #telemetry: Telemetry;

  constructor(options: ChallengeOptions, spend: SpendOnce, telemetry: Telemetry) {
    if (options.hmacKey.length === 0) throw new TypeError('challenge.hmacKey must not be empty');
    this.#hmacKey = options.hmacKey;
    this.#maxNumber = options.maxNumber ?? 50_000;
    this.#expiresInMs = options.expiresInMs ?? 300_000;
    this.#spend = spend;
    this.#telemetry = telemetry;
  }

  /** A new challenge, good for `expiresInMs`. */
  issue(): Promise<Challenge> {
    return createChallenge({
      hmacKey: this.#hmacKey,
      maxNumber: this.#maxNumber,
      expires: new Date(Date.now() + this.#expiresInMs),
    });
  }

  /** Accepts a solved challenge once, or throws 400 `CHALLENGE_FAILED` saying why. */
  async spend(header: string): Promise<void> {
    if (header === '')
      this.#fail(
        'missing',
        `solve a challenge from GET /queue/challenge and send it as the ${CHALLENGE_HEADER} header`,
      );
    let solution: z.infer<typeof Solution>;
    try {
      solution = Solution.parse(JSON.parse(Buffer.from(header, 'base64').toString('utf8')));
    } catch {
      this.#fail(
        'malformed',
        `${CHALLENGE_HEADER} is not a solved challenge: base64 of the JSON {algorithm, challenge, number, salt, signature}`,
      );
    }
    // The signature first: only a challenge issued here can be called expired. Every one issued here has an expiry.
    const expires = Number(extractParams(solution).expires);
    if (!(await verifySolution(solution, this.#hmacKey, false)) || !Number.isSafeInteger(expires)) {
      this.#fail('wrong', 'the challenge is not solved, or was not issued here');
    }
    if (expires * 1_000 <= Date.now())
      this.#fail('expired', 'the challenge has expired: solve a new one');
    // The engine answers UNAVAILABLE (503) when it cannot record the spend now.
    if (!(await this.#spend(solution.signature, expires * 1_000)))
      this.#fail('replayed', 'this challenge was already used: solve a new one');
  }

  #fail(reason: Parameters<Telemetry['challengeFailed']>[0], detail: string): never {
    this.#telemetry.challengeFailed(reason);
    throw new HttpProblem('CHALLENGE_FAILED', detail, { extra: { reason } });
  }
}
