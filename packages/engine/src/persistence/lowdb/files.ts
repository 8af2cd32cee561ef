import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const SNAPSHOT = /^snapshot-(\d{16})\.json$/;
const SEGMENT = /^journal-(\d{16})\.ndjson$/;

export const snapshotName = (seq: number): string => `snapshot-${String(seq).padStart(16, '0')}.json`;
export const segmentName = (firstSeq: number): string => `journal-${String(firstSeq).padStart(16, '0')}.ndjson`;

export interface DataFiles {
  /** Snapshots, newest first. */
  readonly snapshots: { seq: number; path: string }[];
  /** Journal segments, oldest first. */
  readonly segments: { firstSeq: number; path: string }[];
}

/** The store's files in `dir`; removes temp files a crash may have left behind. */
export async function listDataFiles(dir: string): Promise<DataFiles> {
  const snapshots: DataFiles['snapshots'] = [];
  const segments: DataFiles['segments'] = [];
  for (const name of await readdir(dir)) {
    const snapshot = SNAPSHOT.exec(name);
    const segment = SEGMENT.exec(name);
    if (snapshot) snapshots.push({ seq: Number(snapshot[1]), path: join(dir, name) });
    else if (segment) segments.push({ firstSeq: Number(segment[1]), path: join(dir, name) });
    else if (name.startsWith('.snapshot-') && name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
  }
  snapshots.sort((a, b) => b.seq - a.seq);
  segments.sort((a, b) => a.firstSeq - b.firstSeq);
  return { snapshots, segments };
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
