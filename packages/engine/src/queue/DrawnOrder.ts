import { createCipheriv, randomBytes } from 'node:crypto';

/**
 * The opening's draw (SPEC §9), as it is kept: the places `from..to` (both
 * included) of the waiting line are put in the order of a permutation that
 * `seed` determines. Places are an engine's permanent numbers for its line
 * (the embedded engine's join numbers, PostgreSQL's line numbers), never
 * rewritten: a draw is 64 hex digits and two numbers, whatever the crowd.
 */
export interface Draw {
  /** 32 random bytes (`crypto.randomBytes`), hex. */
  readonly seed: string;
  readonly from: number;
  readonly to: number;
}

/** A fresh seed for a draw: 32 bytes from the operating system's cryptographic source. */
export function newDrawSeed(): string {
  return randomBytes(32).toString('hex');
}

const CHUNK = 1 << 16;

/**
 * Unbiased integers from AES-256-CTR keyed with the seed: a cryptographic
 * pseudorandom stream that every engine replays identically from the seed.
 */
class SeededRandom {
  readonly #cipher;
  readonly #chunk: number;
  #words = new Uint32Array(0);
  #next = 0;

  /** `expected`: about how many numbers will be drawn (the first refills are no larger). */
  constructor(seed: string, expected: number) {
    this.#chunk = Math.min(CHUNK, Math.max(16, expected + 16));
    const key = Buffer.from(seed, 'hex');
    if (key.length !== 32) throw new TypeError('a draw seed is 32 bytes (64 hex digits)');
    this.#cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** An integer in `[0, max)`, max ≤ 2³², by rejection: no modulo bias. */
  below(max: number): number {
    const limit = Math.floor(0x1_0000_0000 / max) * max;
    for (;;) {
      const word = this.#word();
      if (word < limit) return word % max;
    }
  }

  #word(): number {
    if (this.#next === this.#words.length) {
      const bytes = this.#cipher.update(Buffer.alloc(this.#chunk * 4));
      this.#words = new Uint32Array(bytes.buffer, bytes.byteOffset, this.#chunk);
      this.#next = 0;
    }
    return this.#words[this.#next++]!;
  }
}

/**
 * A draw as a permutation of the places `from..to`: a Fisher–Yates shuffle
 * driven by {@link SeededRandom}, so uniformly random (as far as AES is a
 * pseudorandom function) and the same in every engine and after every
 * restart. Building it is O(to − from) time and 8 bytes per place; then
 * `slotOf` and `placeAt` are O(1). A slot is where a place stands in the
 * drawn order; places outside the draw keep their number as their slot.
 *
 * @example
 * ```ts
 * const order = drawnOrder({ seed: newDrawSeed(), from: 1, to: 1_000 });
 * order.slotOf(1);   // where the first to join now stands, in 1..1000
 * order.placeAt(1);  // who stands first now
 * order.slotOf(1_001); // 1001: not drawn
 * ```
 */
export class DrawnOrder {
  readonly draw: Draw;
  /** Offset in the draw of the place at each slot offset. */
  readonly #placeAt: Int32Array;
  /** Slot offset of each place offset. */
  readonly #slotOf: Int32Array;

  constructor(draw: Draw) {
    const size = draw.to - draw.from + 1;
    if (!Number.isSafeInteger(size) || size < 1 || size > 0x7fff_ffff)
      throw new RangeError(`a draw covers 1 to 2³¹−1 places, not ${size}`);
    this.draw = draw;
    const order = new Int32Array(size);
    for (let i = 0; i < size; i++) order[i] = i;
    const random = new SeededRandom(draw.seed, size);
    for (let i = size - 1; i > 0; i--) {
      const j = random.below(i + 1);
      const swap = order[i]!;
      order[i] = order[j]!;
      order[j] = swap;
    }
    const slotOf = new Int32Array(size);
    for (let slot = 0; slot < size; slot++) slotOf[order[slot]!] = slot;
    this.#placeAt = order;
    this.#slotOf = slotOf;
  }

  /** Where `place` stands in the drawn order (itself when it is not in the draw). */
  slotOf(place: number): number {
    const { from, to } = this.draw;
    return place < from || place > to ? place : from + this.#slotOf[place - from]!;
  }

  /** The place at `slot` (itself outside the draw). */
  placeAt(slot: number): number {
    const { from, to } = this.draw;
    return slot < from || slot > to ? slot : from + this.#placeAt[slot - from]!;
  }
}

let last: DrawnOrder | undefined;

/** The permutation of `draw`, kept for the last draw asked for (engines ask again and again for the current one). */
export function drawnOrder(draw: Draw): DrawnOrder {
  const cached = last?.draw;
  if (cached && cached.seed === draw.seed && cached.from === draw.from && cached.to === draw.to)
    return last!;
  last = new DrawnOrder(draw);
  return last;
}
