import { createRequire } from 'node:module';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import type * as common from '@zxcvbn-ts/language-common';

/**
 * Guesses (as a power of ten) an attacker must expect to make at least before
 * finding a secret, as zxcvbn-ts estimates them: 10¹⁶, what 16 random
 * hexadecimal digits (64 bits) are worth. `openssl rand -hex 32` is worth 10⁶⁴.
 */
export const MIN_SECRET_GUESSES_LOG10 = 16;

let estimator: ZxcvbnFactory | undefined;

/**
 * What makes `secret` guessable, or `undefined` when nothing does: the one
 * check of every secret the server is given (`ADMIN_TOKEN`, `AUTH_JWT_SECRET`,
 * `QUEUE_CHALLENGE_SECRET`, and any later one). zxcvbn-ts (Dropbox's
 * estimator) scores what a cracker tries first: repeats (`aaaaaaaaaaaaaaaa`),
 * sequences (`abcdefghijklmnop`), keyboard walks, common passwords and words,
 * dates; a secret must be worth {@link MIN_SECRET_GUESSES_LOG10}. Loaded on
 * first use (its dictionaries cost ~70 ms), so a server with no secret never pays.
 *
 * @example
 * ```ts
 * secretWeakness('aaaaaaaaaaaaaaaa'); // 'is guessable: …'
 * secretWeakness(randomBytes(32).toString('hex')); // undefined
 * ```
 */
export function secretWeakness(secret: string): string | undefined {
  estimator ??= newEstimator();
  const { guessesLog10 } = estimator.check(secret);
  if (guessesLog10 >= MIN_SECRET_GUESSES_LOG10) return undefined;
  return `is guessable (repeats, sequences, keyboard walks or common words: about 10^${Math.floor(guessesLog10)} guesses, 10^${MIN_SECRET_GUESSES_LOG10} needed): use a random value, e.g. openssl rand -hex 32`;
}

function newEstimator(): ZxcvbnFactory {
  // Synchronous, for the synchronous reading of the environment: the packages ship CommonJS builds.
  const require = createRequire(import.meta.url);
  const { ZxcvbnFactory: Factory } = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const language = require('@zxcvbn-ts/language-common') as typeof common;
  return new Factory({ dictionary: { ...language.dictionary }, graphs: language.adjacencyGraphs });
}
