import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { DataFile } from 'lowdb/node';
import { collectionNames, laterCollections, type CollectionName } from '../records.js';
import { emptyContents, type StoreContents } from '../Store.js';
import { StoreCorruptedError } from '../StoreCorruptedError.js';
import { fsyncPath, snapshotName } from './files.js';

/** The format written; `usher-snapshot/1` (no checksum) is still read. */
export const SNAPSHOT_FORMAT = 'usher-snapshot/2';
const FORMATS = new Set([SNAPSHOT_FORMAT, 'usher-snapshot/1']);

/** A snapshot as it is written: every collection as `[key, record]` pairs, up to journal record `seq`. */
interface SnapshotDocument {
  readonly format: string;
  readonly seq: number;
  readonly createdAt: string;
  /** CRC-32 of everything after the first line (format 2). */
  readonly crc32?: string;
  readonly collections: Record<CollectionName, [string, unknown][]>;
}

/**
 * lowdb's `JSONFile` indents by two spaces, which roughly doubles a large
 * snapshot. This writes the same JSON with one record per line: compact, and
 * still readable and diffable. The first line carries a CRC-32 of all the
 * lines after it, so a damaged record cannot open as a different one.
 */
function stringify(document: SnapshotDocument): string {
  const parts: string[] = [];
  collectionNames.forEach((name, i) => {
    const entries = document.collections[name];
    parts.push(`${i === 0 ? '' : ','}\n${JSON.stringify(name)}:[`);
    entries.forEach((entry, j) => parts.push(`${j === 0 ? '' : ','}\n${JSON.stringify(entry)}`));
    parts.push(']');
  });
  parts.push('}}\n');
  const body = parts.join('');
  return `{"format":${JSON.stringify(SNAPSHOT_FORMAT)},"seq":${document.seq},"createdAt":${JSON.stringify(document.createdAt)},"crc32":"${checksum(body)}","collections":{${body}`;
}

const checksum = (text: string): string => crc32(text).toString(16).padStart(8, '0');

class ChecksumError extends Error {}

/** Parses a snapshot, checking a format-2 snapshot's checksum first. */
function parse(text: string): SnapshotDocument {
  const header =
    /^\{"format":"usher-snapshot\/2","seq":\d+,"createdAt":"[^"]*","crc32":"([0-9a-f]{8})","collections":\{/.exec(
      text,
    );
  if (header && checksum(text.slice(header[0].length)) !== header[1])
    throw new ChecksumError('the snapshot fails its checksum');
  return JSON.parse(text) as SnapshotDocument;
}

function snapshotFile(path: string): DataFile<SnapshotDocument> {
  return new DataFile<SnapshotDocument>(path, { parse, stringify });
}

/**
 * Reads a snapshot through lowdb; throws {@link StoreCorruptedError} on
 * anything but a well-formed one whose number is `expectedSeq` (its name's).
 * An error reading the file (permissions, I/O) is thrown as it is: it is not
 * damage.
 */
export async function readSnapshot(
  path: string,
  expectedSeq?: number,
): Promise<{ seq: number; contents: StoreContents }> {
  let document: SnapshotDocument | null;
  try {
    document = await snapshotFile(path).read();
  } catch (cause) {
    if (cause instanceof ChecksumError)
      throw new StoreCorruptedError(path, 'the snapshot fails its checksum (damaged)', { cause });
    if (cause instanceof SyntaxError)
      throw new StoreCorruptedError(path, 'the snapshot is not valid JSON (truncated or damaged)', {
        cause,
      });
    throw cause;
  }
  if (document === null)
    throw new StoreCorruptedError(path, 'the snapshot disappeared while opening the store');
  if (
    !FORMATS.has(document.format) ||
    !Number.isSafeInteger(document.seq) ||
    typeof document.collections !== 'object'
  ) {
    throw new StoreCorruptedError(path, `not a ${SNAPSHOT_FORMAT} snapshot`);
  }
  if (expectedSeq !== undefined && document.seq !== expectedSeq) {
    throw new StoreCorruptedError(
      path,
      `the snapshot says it covers records up to ${document.seq}, but it is named for record ${expectedSeq}`,
    );
  }
  const contents = emptyContents();
  for (const name of collectionNames) {
    const entries = document.collections[name] as unknown;
    if (entries === undefined && laterCollections.has(name)) continue;
    if (!Array.isArray(entries))
      throw new StoreCorruptedError(path, `collection "${name}" is missing`);
    const map = contents[name] as Map<string, unknown>;
    for (const entry of entries) {
      if (
        !Array.isArray(entry) ||
        typeof entry[0] !== 'string' ||
        typeof entry[1] !== 'object' ||
        entry[1] === null
      ) {
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
export async function writeSnapshot(
  dir: string,
  seq: number,
  contents: StoreContents,
  beforePublish: () => void = () => undefined,
): Promise<string> {
  const path = join(dir, snapshotName(seq));
  const partial = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  const collections = Object.fromEntries(
    collectionNames.map((name) => [name, [...(contents[name] as Map<string, unknown>)]]),
  ) as SnapshotDocument['collections'];
  try {
    await snapshotFile(partial).write({
      format: SNAPSHOT_FORMAT,
      seq,
      createdAt: new Date().toISOString(),
      collections,
    });
    await fsyncPath(partial);
    beforePublish();
    await rename(partial, path);
  } catch (error) {
    // This writer's own files: a failed compaction leaves nothing behind (on a full disk, retries would fill it further).
    await rm(partial, { force: true });
    await rm(join(dirname(partial), `.${basename(partial)}.tmp`), { force: true });
    throw error;
  }
  await fsyncPath(dir);
  return path;
}
