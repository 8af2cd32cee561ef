/**
 * Entry of the compaction child process: takes one {@link CompactionInput}
 * over IPC, answers one {@link CompactionResult}, exits. A separate process
 * keeps the whole-state JSON work off the server's event loop and heap.
 *
 * It has one owner at a time and never outlives its server:
 * - it works only while holding the folder's `compaction.lock` (a kernel
 *   lock, released when it exits however it exits), so two compactions of
 *   one folder never overlap, and a store that opens the folder removes temp
 *   files only when no compaction holds that lock;
 * - when its server dies, the IPC channel closes and it exits at once; it
 *   checks again just before it renames a new snapshot into place.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compact, type CompactionInput } from './compact.js';
import { FileLock } from './FileLock.js';
import { COMPACTION_LOCK } from './files.js';

/** The server is gone: stop here, publish nothing. What was written is a temp file the next owner removes. */
const abandon = () => process.exit(0);

process.once('disconnect', abandon);
process.once('message', (input: CompactionInput) => {
  run(input).then(
    (result) => process.send!({ ok: true, result }, () => process.disconnect()),
    (error: unknown) =>
      process.send!(
        {
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        },
        () => process.disconnect(),
      ),
  );
});

async function run(input: CompactionInput) {
  // Polled rather than waited on in the kernel: a thread blocked in fcntl would keep this process from exiting.
  let lock: FileLock | undefined;
  while (!(lock = await FileLock.tryAcquire(join(input.dir, COMPACTION_LOCK)))) await sleep(50);
  try {
    return await compact(input, () => {
      if (!process.connected) abandon();
    });
  } finally {
    // Released before the answer goes out: the server may open the folder again the moment it has it.
    await lock.release();
  }
}
