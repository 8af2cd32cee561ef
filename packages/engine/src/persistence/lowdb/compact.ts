import { emptyContents } from '../Store.js';
import { StoreCorruptedError } from '../StoreCorruptedError.js';
import { replaySegments, type Segment } from './journal.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';

export interface CompactionInput {
  readonly dir: string;
  /** The snapshot to start from, or null for an empty state. */
  readonly snapshot: string | null;
  /** Closed journal segments, oldest first. */
  readonly segments: readonly Segment[];
}

export interface CompactionResult {
  /** Last record the new snapshot covers. */
  readonly seq: number;
  /** The new snapshot, or the old one when the segments held nothing newer. */
  readonly snapshot: string | null;
}

/**
 * Folds closed segments into a new snapshot. Runs in a child process: the
 * server's thread never serializes the whole state. `beforePublish` runs just
 * before the new snapshot is renamed into place, and may throw to abandon it.
 */
export async function compact(
  input: CompactionInput,
  beforePublish?: () => void,
): Promise<CompactionResult> {
  const base = input.snapshot
    ? await readSnapshot(input.snapshot)
    : { seq: 0, contents: emptyContents() };
  const { seq, torn } = await replaySegments(base.contents, input.segments, base.seq);
  if (torn)
    throw new StoreCorruptedError(
      torn.path,
      'a closed journal segment ends in an unfinished record',
      { line: torn.line },
    );
  if (seq === base.seq) return { seq, snapshot: input.snapshot };
  return { seq, snapshot: await writeSnapshot(input.dir, seq, base.contents, beforePublish) };
}
