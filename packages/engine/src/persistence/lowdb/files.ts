import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const SNAPSHOT = /^snapshot-(\d{16})\.json$/;
const SEGMENT = /^journal-(\d{16})\.ndjson$/;
/**
 * What an interrupted compaction leaves: its unique `.partial` snapshot, and
 * lowdb's temp file for it (`.<name>.tmp`; older versions wrote `.snapshot-<seq>.json.tmp`).
 */
const COMPACTION_LEFTOVER =
  /^(\.snapshot-\d{16}\.json(\.[\w-]+\.partial)?\.tmp|snapshot-\d{16}\.json\.[\w-]+\.partial)$/;

/** Held by the compaction process while it works (see compactionProcess.ts). */
export const COMPACTION_LOCK = 'compaction.lock';
/** Held by the store that has the folder open. */
export const FOLDER_LOCK = 'usher.lock';

export const snapshotName = (seq: number): string =>
  `snapshot-${String(seq).padStart(16, '0')}.json`;
export const segmentName = (firstSeq: number): string =>
  `journal-${String(firstSeq).padStart(16, '0')}.ndjson`;

export interface DataFiles {
  /** Snapshots, newest first. */
  readonly snapshots: { seq: number; path: string }[];
  /** Journal segments, oldest first. */
  readonly segments: { firstSeq: number; path: string }[];
}

/** The store's snapshots and journal segments in `dir`. */
export async function listDataFiles(dir: string): Promise<DataFiles> {
  const snapshots: DataFiles['snapshots'] = [];
  const segments: DataFiles['segments'] = [];
  for (const name of await readdir(dir)) {
    const snapshot = SNAPSHOT.exec(name);
    const segment = SEGMENT.exec(name);
    if (snapshot) snapshots.push({ seq: Number(snapshot[1]), path: join(dir, name) });
    else if (segment) segments.push({ firstSeq: Number(segment[1]), path: join(dir, name) });
  }
  snapshots.sort((a, b) => b.seq - a.seq);
  segments.sort((a, b) => a.firstSeq - b.firstSeq);
  return { snapshots, segments };
}

/** Removes what interrupted compactions left in `dir`. Call it only while no compaction can be running (holding the compaction lock). */
export async function removeCompactionLeftovers(dir: string): Promise<void> {
  for (const name of await readdir(dir))
    if (COMPACTION_LEFTOVER.test(name)) await rm(join(dir, name), { force: true });
}

/** Makes a file's data, or a directory's entries (created, renamed, removed files), durable. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
