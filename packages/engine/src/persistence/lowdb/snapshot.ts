import { randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DataFile } from 'lowdb/node';
import { collectionNames, type CollectionName } from '../records.js';
import { emptyContents, type StoreContents } from '../Store.js';
import { StoreCorruptedError } from '../StoreCorruptedError.js';
import { fsyncPath, snapshotName } from './files.js';

export const SNAPSHOT_FORMAT = 'usher-snapshot/1';

/** A snapshot as it is written: every collection as `[key, record]` pairs, up to journal record `seq`. */
interface SnapshotDocument {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly seq: number;
  readonly createdAt: string;
  readonly collections: Record<CollectionName, [string, unknown][]>;
}

/**
 * lowdb's `JSONFile` indents by two spaces, which roughly doubles a large
 * snapshot. This writes the same JSON with one record per line: compact, and
 * still readable and diffable.
 */
function stringify(document: SnapshotDocument): string {
  const parts = [`{"format":${JSON.stringify(document.format)},"seq":${document.seq},"createdAt":${JSON.stringify(document.createdAt)},"collections":{`];
  collectionNames.forEach((name, i) => {
    const entries = document.collections[name];
    parts.push(`${i === 0 ? '' : ','}\n${JSON.stringify(name)}:[`);
    entries.forEach((entry, j) => parts.push(`${j === 0 ? '' : ','}\n${JSON.stringify(entry)}`));
    parts.push(']');
  });
  parts.push('}}\n');
  return parts.join('');
}

function snapshotFile(path: string): DataFile<SnapshotDocument> {
  return new DataFile<SnapshotDocument>(path, { parse: JSON.parse, stringify });
}

/** Reads a snapshot through lowdb; throws {@link StoreCorruptedError} on anything but a well-formed one. */
export async function readSnapshot(path: string): Promise<{ seq: number; contents: StoreContents }> {
  let document: SnapshotDocument | null;
  try {
    document = await snapshotFile(path).read();
  } catch (cause) {
    throw new StoreCorruptedError(path, 'the snapshot is not valid JSON (truncated or damaged)', { cause });
  }
  if (document === null) throw new StoreCorruptedError(path, 'the snapshot disappeared while opening the store');
  if (document.format !== SNAPSHOT_FORMAT || !Number.isSafeInteger(document.seq) || typeof document.collections !== 'object') {
    throw new StoreCorruptedError(path, `not a ${SNAPSHOT_FORMAT} snapshot`);
  }
  const contents = emptyContents();
  for (const name of collectionNames) {
    const entries = document.collections[name];
    if (!Array.isArray(entries)) throw new StoreCorruptedError(path, `collection "${name}" is missing`);
    const map = contents[name] as Map<string, unknown>;
    for (const entry of entries) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'object' || entry[1] === null) {
        throw new StoreCorruptedError(path, `collection "${name}" holds a malformed entry`);
      }
      map.set(entry[0], entry[1]);
    }
  }
  return { seq: document.seq, contents };
}

/**
 * Writes `contents` as the snapshot up to `seq`: through lowdb to a file of
 * its own (`snapshot-<seq>.json.<unique>.partial`, so that no two writers
 * ever share a temp name), fsynced, then renamed into place and the folder
 * fsynced: only then may what it replaces be deleted. `beforePublish` runs
 * just before the rename and may throw to abandon the snapshot. Returns the
 * new file's path.
 */
export async function writeSnapshot(dir: string, seq: number, contents: StoreContents, beforePublish: () => void = () => undefined): Promise<string> {
  const path = join(dir, snapshotName(seq));
  const partial = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  const collections = Object.fromEntries(collectionNames.map((name) => [name, [...(contents[name] as Map<string, unknown>)]])) as SnapshotDocument['collections'];
  await snapshotFile(partial).write({ format: SNAPSHOT_FORMAT, seq, createdAt: new Date().toISOString(), collections });
  await fsyncPath(partial);
  beforePublish();
  await rename(partial, path);
  await fsyncPath(dir);
  return path;
}
