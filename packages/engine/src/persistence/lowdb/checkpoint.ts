import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { StoreCorruptedError } from '../StoreCorruptedError.js';
import { fsyncPath } from './files.js';

export const CHECKPOINT = 'checkpoint';

/**
 * The highest journal record known to be acknowledged, kept in its own small
 * file: `<crc32> {"seq":n,"at":"…"}`. Opening a folder whose snapshots and
 * journal end below it means acknowledged records were lost (a truncated,
 * emptied or deleted file), and the store refuses to open.
 */
export interface Checkpoint {
  readonly seq: number;
  readonly path: string;
}

/** The folder's checkpoint, or `undefined` when there is none. A damaged one throws {@link StoreCorruptedError}. */
export async function readCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  const path = join(dir, CHECKPOINT);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
  const json = text.slice(9).trimEnd();
  const seq = text[8] === ' ' && checksum(json) === text.slice(0, 8) ? parseSeq(json) : undefined;
  if (seq === undefined) {
    throw new StoreCorruptedError(
      path,
      `the checkpoint is damaged; it guards against lost journal records. If the journal and snapshots are known to be whole, delete ${path} to open the folder`,
    );
  }
  return { seq, path };
}

/** Replaces the checkpoint atomically (temp file and rename, both made durable when `fsync`). Only the folder's owner calls it. */
export async function writeCheckpoint(dir: string, seq: number, fsync: boolean): Promise<void> {
  const path = join(dir, CHECKPOINT);
  const temp = `${path}.tmp`;
  const json = JSON.stringify({ seq, at: new Date().toISOString() });
  await writeFile(temp, `${checksum(json)} ${json}\n`);
  if (fsync) await fsyncPath(temp);
  await rename(temp, path);
  if (fsync) await fsyncPath(dir);
}

function checksum(json: string): string {
  return crc32(json).toString(16).padStart(8, '0');
}

function parseSeq(json: string): number | undefined {
  try {
    const { seq } = JSON.parse(json) as { seq: unknown };
    return Number.isSafeInteger(seq) && (seq as number) >= 0 ? (seq as number) : undefined;
  } catch {
    return undefined;
  }
}
