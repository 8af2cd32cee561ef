import { link, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { KeyVault, StoredKey } from './keys.js';

/** The file in `DATA_DIR` that keeps the generated signing keys. */
export const KEY_FILE = 'signing-keys.json';

/**
 * Keeps generated keys in `dir/signing-keys.json` (mode 0600: it holds
 * private keys), beside the lowdb store: durable (written, fsynced, then
 * linked into place, so that it is whole or absent) and made once: of two
 * processes creating it at once, the first link wins and both read it. A
 * missing use is added by replacing the file (the folder has one owner, the
 * store's lock says so).
 */
export function fileKeyVault(dir: string): KeyVault {
  const path = join(dir, KEY_FILE);
  return {
    async loadOrCreate(fresh) {
      await mkdir(dir, { recursive: true });
      for (let attempt = 0; ; attempt++) {
        const kept = await read(path);
        const missing = fresh.filter(
          (key) => !kept?.some((k) => k.use === key.use && k.retiredAt === undefined),
        );
        if (kept !== undefined && missing.length === 0) return kept;
        const temporary = join(dir, `.${KEY_FILE}.${randomBytes(6).toString('hex')}.tmp`);
        await write(temporary, [...(kept ?? []), ...missing]);
        try {
          if (kept === undefined) await link(temporary, path);
          else await rename(temporary, path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error;
          continue; // another process made it first: read theirs
        } finally {
          await rm(temporary, { force: true });
        }
        await syncDir(dir);
      }
    },
  };
}

async function read(path: string): Promise<StoredKey[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as { keys?: unknown };
  if (!Array.isArray(parsed.keys)) throw new Error(`${path} has no "keys" list`);
  return parsed.keys as StoredKey[];
}

async function write(path: string, keys: readonly StoredKey[]): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify({ keys }, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
