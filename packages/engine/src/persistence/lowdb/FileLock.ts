import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tryLock } from 'fs-native-extensions';

/**
 * An exclusive advisory lock on a file, held by the kernel for as long as the
 * file stays open: `fcntl` open-file-description locks on Linux, `flock`
 * elsewhere (through `fs-native-extensions`).
 *
 * Unlike a pid in a file it is atomic, it cannot be fooled by pid reuse or
 * by PID 1, and it is released by the kernel the moment its process dies,
 * however it dies. It is per open file, so a second lock on the same file
 * from the same process is refused too. The file itself is never deleted:
 * a process that unlinked a lock file could let two others lock two
 * different files under one name.
 */
export class FileLock {
  readonly path: string;
  readonly #handle: FileHandle;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /** Takes the lock on `path` (creating the file), or answers `undefined` when someone else holds it. */
  static async tryAcquire(path: string): Promise<FileLock | undefined> {
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    let locked = false;
    try {
      locked = tryLock(handle.fd);
    } finally {
      if (!locked) await handle.close();
    }
    return locked ? new FileLock(path, handle) : undefined;
  }

  /** Writes a note into the lock file for people (e.g. the owner's pid); the lock never reads it. */
  async note(text: string): Promise<void> {
    await this.#handle.truncate(0);
    await this.#handle.write(text, 0);
  }

  /** Releases the lock (closing the file releases it). */
  release(): Promise<void> {
    return this.#handle.close();
  }
}
