import { emptyContents } from '../Store.js';
import { replaySegments } from './journal.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';

export interface CompactionInput {
  readonly dir: string;
  /** The snapshot to start from, or null for an empty state. */
  readonly snapshot: string | null;
  /** Closed journal segments, oldest first. */
  readonly segments: readonly string[];
}

export interface CompactionResult {
  /** Last record the new snapshot covers. */
  readonly seq: number;
  /** The new snapshot, or the old one when the segments held nothing newer. */
  readonly snapshot: string | null;
}

/** Folds closed segments into a new snapshot. Runs in a child process: the server's thread never serializes the whole state. */
export async function compact(input: CompactionInput): Promise<CompactionResult> {
  const base = input.snapshot ? await readSnapshot(input.snapshot) : { seq: 0, contents: emptyContents() };
  const seq = await replaySegments(base.contents, input.segments, base.seq, { repairTail: false });
  if (seq === base.seq) return { seq, snapshot: input.snapshot };
  return { seq, snapshot: await writeSnapshot(input.dir, seq, base.contents) };
}
