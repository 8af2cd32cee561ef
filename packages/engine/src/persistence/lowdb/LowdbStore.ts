import { mkdir, readFile, rename, rm, truncate } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { constants as osConstants, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { emptyContents, type Change, type Store, type StoreContents } from '../Store.js';
import { StoreCorruptedError } from '../StoreCorruptedError.js';
import type { CompactionInput, CompactionResult } from './compact.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { FileLock } from './FileLock.js';
import {
  COMPACTION_LOCK,
  FOLDER_LOCK,
  fsyncPath,
  listDataFiles,
  removeCompactionLeftovers,
} from './files.js';
import { JournalWriter, replaySegments, type JournalStats } from './journal.js';
import { readSnapshot } from './snapshot.js';

export interface LowdbStoreOptions {
  /**
   * Make every group write durable before acknowledging it (default `true`;
   * the journal is opened `O_DSYNC`): an acknowledged command survives a power loss. With `false` it survives a process crash (the OS
   * still has the write) but not a power loss.
   */
  readonly fsync?: boolean;
  /** Start a new journal segment, and compact the closed one into a snapshot, past this size. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Told about repairs and failed compactions. Default: `process.emitWarning`. */
  readonly onWarning?: (message: string, cause?: unknown) => void;
  /**
   * The checkpoint (the highest acknowledged record, which a shorter journal
   * is checked against at open) is rewritten at most this often while records
   * are acknowledged, and at close. Default 1000 ms.
   */
  readonly checkpointMs?: number;
}

/** Folders open in this process, for a clearer refusal. */
const openHere = new Set<string>();

/**
 * The embedded default store: lowdb snapshots plus an append-only journal, in
 * one folder.
 *
 * - Every command is one checksummed line in the journal. Lines are written in
 *   groups: while one write and its fsync are in flight, new commands wait and
 *   share the next write. A command is acknowledged once its group is durable,
 *   and per command the cost is its own JSON, whatever the size of the state.
 * - Past `segmentBytes` the journal moves to a new segment, and a child process
 *   folds the closed ones into a new lowdb snapshot (`snapshot-<seq>.json`,
 *   written atomically by lowdb, then fsynced with its folder). Old snapshots
 *   and segments are deleted only after that.
 * - Opening takes the folder's lock first (`usher.lock`, a kernel lock held
 *   while the store is open and released when its process dies, however it
 *   dies); a folder open elsewhere is refused before anything in it is touched.
 * - Opening reads the newest snapshot and replays the journal after it. An
 *   unfinished last line (a crash mid-write: never acknowledged) is cut off; a
 *   damaged newest snapshot falls back to the previous one if the journal
 *   still covers everything since. The `checkpoint` file, kept within
 *   `checkpointMs` of every acknowledged record, catches a journal that was
 *   truncated, emptied or deleted. Any other damage throws
 *   {@link StoreCorruptedError}.
 *
 * @example
 * ```ts
 * import { createEngine } from '@usher/engine';
 * import { LowdbStore } from '@usher/engine/lowdb';
 *
 * const engine = await createEngine({ store: new LowdbStore('./data') });
 * ```
 */
export class LowdbStore implements Store {
  readonly directory: string;
  readonly #fsync: boolean;
  readonly #segmentBytes: number;
  readonly #warn: (message: string, cause?: unknown) => void;
  readonly #checkpointMs: number;
  #lock: FileLock | undefined;
  #writer: JournalWriter | undefined;
  /** The last durable record, and the last one the checkpoint file holds. */
  #durableSeq = 0;
  #checkpointedSeq = 0;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #checkpointing: Promise<void> = Promise.resolve();
  #compaction: Promise<void> | undefined;
  #compactor: ChildProcess | undefined;
  /** A segment closed while a compaction ran: compact again when it ends. */
  #behind = false;
  #closing = false;

  constructor(directory: string, options: LowdbStoreOptions = {}) {
    this.directory = directory;
    this.#fsync = options.fsync ?? true;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#warn =
      options.onWarning ?? ((message) => process.emitWarning(message, 'UsherStoreWarning'));
    this.#checkpointMs = options.checkpointMs ?? 1_000;
  }

  /**
   * Takes the folder's lock, then reads the newest snapshot and replays the
   * journal after it. Refuses a folder another store has open, in this
   * process or any other, before touching anything in it.
   */
  async load(): Promise<StoreContents | null> {
    await mkdir(this.directory, { recursive: true });
    const where = resolve(this.directory);
    const lock = await FileLock.tryAcquire(join(this.directory, FOLDER_LOCK));
    if (!lock) {
      if (openHere.has(where))
        throw new Error(`the store in ${this.directory} is already open in this process`);
      const note = (
        await readFile(join(this.directory, FOLDER_LOCK), 'utf8').catch(() => '')
      ).trim();
      throw new Error(
        `the store in ${this.directory} is in use by another process${/^\d+$/.test(note) ? ` (pid ${note})` : ''}`,
      );
    }
    this.#lock = lock;
    openHere.add(where);
    try {
      await lock.note(`${process.pid}\n`);
      return await this.#load();
    } catch (error) {
      await this.#unlock();
      throw error;
    }
  }

  async #load(): Promise<StoreContents | null> {
    const files = await listDataFiles(this.directory);
    await this.#requireJournalFree(files.segments.at(-1)?.path);
    await this.#removeLeftovers();
    const checkpoint = await readCheckpoint(this.directory);
    let base: { seq: number; contents: StoreContents } = { seq: 0, contents: emptyContents() };
    /** Damaged snapshots stood in for by older ones: set aside only once the folder is known to open. */
    const damaged: { path: string; older: string; error: unknown }[] = [];
    for (const [i, snapshot] of files.snapshots.entries()) {
      try {
        base = await readSnapshot(snapshot.path, snapshot.seq);
        break;
      } catch (error) {
        const older = files.snapshots[i + 1];
        const covered =
          older !== undefined && (files.segments[0]?.firstSeq ?? Infinity) <= older.seq + 1;
        if (!(error instanceof StoreCorruptedError) || !covered) throw error;
        damaged.push({ path: snapshot.path, older: older.path, error });
      }
    }
    const firstSeq = files.segments[0]?.firstSeq;
    if (firstSeq !== undefined && firstSeq > base.seq + 1) {
      throw new StoreCorruptedError(
        files.segments[0]!.path,
        `the journal starts at record ${firstSeq} but no snapshot covers records up to ${firstSeq - 1}`,
      );
    }
    const { seq, last, torn } = await replaySegments(base.contents, files.segments, base.seq);
    if (last !== undefined && last < base.seq) {
      throw new StoreCorruptedError(
        files.snapshots.find((snapshot) => snapshot.seq === base.seq)?.path ?? this.directory,
        `the snapshot covers records up to ${base.seq}, but the journal after it ends at record ${last}: the snapshot or the journal is damaged`,
      );
    }
    if (checkpoint && seq < checkpoint.seq) {
      throw new StoreCorruptedError(
        files.segments.at(-1)?.path ?? checkpoint.path,
        `records up to ${checkpoint.seq} were acknowledged, but what is left ends at record ${seq}: a journal or snapshot file was truncated, emptied or deleted. ` +
          `Restore the folder from a backup; to open it with what is left (losing acknowledged data), delete ${checkpoint.path}`,
      );
    }
    if (!checkpoint && seq > 0) {
      this.#warn(
        `${this.directory} has no checkpoint (a folder from an older version, or it was deleted): whether records were lost cannot be checked this time; one is written now`,
      );
    }
    for (const { path, older, error } of damaged) {
      await rename(path, `${path}.damaged`);
      this.#warn(
        `${path} is damaged (kept as .damaged); recovering from ${older} and the journal`,
        error,
      );
    }
    if (torn) {
      await truncate(torn.path, torn.offset);
      this.#warn(
        `${torn.path}:${torn.line}: cut an unfinished last record (${torn.bytes} bytes): a crash during its write, so it was never acknowledged`,
      );
    }
    this.#writer = await JournalWriter.open(this.directory, files.segments.at(-1)?.path, seq + 1, {
      fsync: this.#fsync,
      segmentBytes: this.#segmentBytes,
      onRotate: () => this.#startCompaction(),
      onDurable: (durable) => this.#acknowledged(durable),
    });
    this.#durableSeq = this.#checkpointedSeq = seq;
    if (checkpoint?.seq !== seq) await writeCheckpoint(this.directory, seq, this.#fsync);
    if (files.segments.length > 1) this.#startCompaction();
    return seq === 0 ? null : base.contents;
  }

  append(changes: readonly Change[]): Promise<void> {
    return this.#open().append(changes);
  }

  flush(): Promise<void> {
    return this.#open().flush();
  }

  /** Records, group writes, bytes and fsync time since the store opened. */
  get stats(): JournalStats {
    return this.#open().stats;
  }

  /** Closes the current journal segment and folds everything into a new snapshot now. */
  async compact(): Promise<void> {
    await this.#open().rotate();
    await this.whenCompacted();
    this.#startCompaction();
    await this.whenCompacted();
  }

  /** Resolves once no compaction is running or due (background compactions included). */
  async whenCompacted(): Promise<void> {
    while (this.#compaction) await this.#compaction;
  }

  /** Resolves once the checkpoint holds every record acknowledged so far. */
  async whenCheckpointed(): Promise<void> {
    if (this.#checkpointTimer) this.#checkpoint();
    await this.#checkpointing;
  }

  /**
   * Flushes, stops a compaction in progress (it is safe to interrupt), closes
   * the journal, brings the checkpoint up to date and releases the folder.
   * After a failed write it still releases the folder.
   */
  async close(): Promise<void> {
    if (!this.#writer || this.#closing) return;
    this.#closing = true;
    this.#compactor?.kill();
    await this.#compaction;
    await this.#writer.close();
    await this.whenCheckpointed();
    await this.#unlock();
  }

  async #unlock(): Promise<void> {
    openHere.delete(resolve(this.directory));
    await this.#lock?.release();
    this.#lock = undefined;
  }

  /**
   * The newest segment is locked by the store that appends to it: if it is
   * locked, another process owns the folder even though its lock file could
   * be taken (someone deleted it by hand). Checked before anything is touched.
   */
  async #requireJournalFree(newest: string | undefined): Promise<void> {
    if (newest === undefined) return;
    const probe = await FileLock.tryAcquire(newest);
    if (!probe)
      throw new Error(
        `the store in ${this.directory} is in use by another process (it writes ${newest}; was usher.lock deleted by hand?)`,
      );
    await probe.release();
  }

  /** What interrupted compactions left behind, unless a compaction (maybe one whose server died) still runs and owns it. */
  async #removeLeftovers(): Promise<void> {
    const compaction = await FileLock.tryAcquire(join(this.directory, COMPACTION_LOCK));
    if (!compaction) {
      this.#warn(
        `a compaction of ${this.directory} from an earlier process is still running; its temp files are left to it`,
      );
      return;
    }
    try {
      await removeCompactionLeftovers(this.directory);
      await rm(join(this.directory, 'checkpoint.tmp'), { force: true });
    } finally {
      await compaction.release();
    }
  }

  /** A group is durable: the checkpoint follows within `checkpointMs`. */
  #acknowledged(seq: number): void {
    this.#durableSeq = seq;
    this.#checkpointTimer ??= setTimeout(() => this.#checkpoint(), this.#checkpointMs).unref();
  }

  #checkpoint(): void {
    clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = undefined;
    this.#checkpointing = this.#checkpointing.then(async () => {
      const seq = this.#durableSeq;
      if (seq <= this.#checkpointedSeq) return;
      try {
        await writeCheckpoint(this.directory, seq, this.#fsync);
        this.#checkpointedSeq = seq;
      } catch (error) {
        this.#warn(
          `could not update the checkpoint (it guards against lost journal records): ${String(error)}`,
          error,
        );
      }
    });
  }

  #open(): JournalWriter {
    if (!this.#writer || this.#closing)
      throw new Error(`the store in ${this.directory} is not open`);
    return this.#writer;
  }

  #startCompaction(): void {
    if (this.#closing) return;
    if (this.#compaction) {
      this.#behind = true;
      return;
    }
    this.#behind = false;
    this.#compaction = this.#compactClosedSegments()
      .catch((error: unknown) => {
        if (!this.#closing)
          this.#warn(
            `compaction failed; the journal still holds everything: ${String(error)}`,
            error,
          );
      })
      .finally(() => {
        this.#compaction = undefined;
        this.#compactor = undefined;
        if (this.#behind) this.#startCompaction();
      });
  }

  async #compactClosedSegments(): Promise<void> {
    // Read before listing: a segment that rotates in meanwhile is newer than this one, and never counted as closed.
    const current = this.#writer!.currentFirstSeq;
    const files = await listDataFiles(this.directory);
    const closed = files.segments.filter((segment) => segment.firstSeq < current);
    if (closed.length === 0) return;
    const result = await this.#inChildProcess({
      dir: this.directory,
      snapshot: files.snapshots[0]?.path ?? null,
      segments: closed,
    });
    for (const snapshot of (await listDataFiles(this.directory)).snapshots)
      if (snapshot.seq < result.seq) await rm(snapshot.path, { force: true });
    for (const segment of closed) await rm(segment.path, { force: true });
    await fsyncPath(this.directory);
  }

  #inChildProcess(input: CompactionInput): Promise<CompactionResult> {
    // Under a TypeScript loader (tests) this module is `.ts`; built, it is `.js`. The child inherits execArgv either way.
    const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const child = fork(fileURLToPath(new URL(`./compactionProcess${extension}`, import.meta.url)), {
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#compactor = child;
    // Background work yields to serving: on a busy core the compaction waits, not the requests.
    if (child.pid !== undefined) setPriority(child.pid, osConstants.priority.PRIORITY_LOW);
    return new Promise((resolve, reject) => {
      child.once(
        'message',
        (answer: { ok: true; result: CompactionResult } | { ok: false; error: string }) =>
          answer.ok ? resolve(answer.result) : reject(new Error(answer.error)),
      );
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(new Error(`compaction process exited (${signal ?? code})`)),
      );
      child.send(input);
    });
  }
}
