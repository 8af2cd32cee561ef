import { solveChallenge } from 'altcha-lib/v1';

/** What `GET /queue/challenge` answers. */
export interface IssuedChallenge {
  readonly algorithm: string;
  readonly challenge: string;
  readonly salt: string;
  readonly signature: string;
  readonly maxnumber: number;
}

/** Solves `challenge` as the page's worker does, and answers the `X-Challenge` header that carries the solution. */
export async function solvedHeader(challenge: IssuedChallenge): Promise<string> {
  const { number } = (await solveChallenge(
    challenge.challenge,
    challenge.salt,
    challenge.algorithm,
    challenge.maxnumber,
  ).promise)!;
  return Buffer.from(JSON.stringify({ ...challenge, number })).toString('base64');
}
