/** How many due entities one step handles at most; the rest wait for the next step. */
export const BATCH = 10_000;
