import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { constants as osConstants, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { emptyContents, type Change, type Store, type StoreContents } from '../Store.js';
import { StoreCorruptedError } from '../StoreCorruptedError.js';
import type { CompactionInput, CompactionResult } from './compact.js';
import { fsyncPath, listDataFiles } from './files.js';
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
}

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
 * - Opening reads the newest snapshot and replays the journal after it. A torn
 *   last record (a crash mid-write: never acknowledged) is cut off; a damaged
 *   newest snapshot falls back to the previous one if the journal still covers
 *   everything since; any other damage throws {@link StoreCorruptedError}.
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
  #writer: JournalWriter | undefined;
  #compaction: Promise<void> | undefined;
  #compactor: ChildProcess | undefined;
  /** A segment closed while a compaction ran: compact again when it ends. */
  #behind = false;
  #closing = false;

  constructor(directory: string, options: LowdbStoreOptions = {}) {
    this.directory = directory;
    this.#fsync = options.fsync ?? true;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#warn = options.onWarning ?? ((message) => process.emitWarning(message, 'UsherStoreWarning'));
  }

  async load(): Promise<StoreContents | null> {
    await mkdir(this.directory, { recursive: true });
    await this.#lock();
    try {
      return await this.#load();
    } catch (error) {
      await this.#unlock();
      throw error;
    }
  }

  async #load(): Promise<StoreContents | null> {
    const files = await listDataFiles(this.directory);
    let base: { seq: number; contents: StoreContents } = { seq: 0, contents: emptyContents() };
    for (const [i, snapshot] of files.snapshots.entries()) {
      try {
        base = await readSnapshot(snapshot.path);
        break;
      } catch (error) {
        const older = files.snapshots[i + 1];
        const covered = older !== undefined && (files.segments[0]?.firstSeq ?? Infinity) <= older.seq + 1;
        if (!(error instanceof StoreCorruptedError) || !covered) throw error;
        await rename(snapshot.path, `${snapshot.path}.damaged`);
        this.#warn(`${snapshot.path} is damaged (kept as .damaged); recovering from ${older.path} and the journal`, error);
      }
    }
    const firstSeq = files.segments[0]?.firstSeq;
    if (firstSeq !== undefined && firstSeq > base.seq + 1) {
      throw new StoreCorruptedError(files.segments[0]!.path, `the journal starts at record ${firstSeq} but no snapshot covers records up to ${firstSeq - 1}`);
    }
    const seq = await replaySegments(
      base.contents,
      files.segments.map((segment) => segment.path),
      base.seq,
      { repairTail: true, onRepair: (message) => this.#warn(message) },
    );
    this.#writer = await JournalWriter.open(this.directory, files.segments.at(-1)?.path, seq + 1, {
      fsync: this.#fsync,
      segmentBytes: this.#segmentBytes,
      onRotate: () => this.#startCompaction(),
    });
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

  /** Flushes, stops a compaction in progress (it is safe to interrupt), and closes the journal. */
  async close(): Promise<void> {
    if (!this.#writer || this.#closing) return;
    this.#closing = true;
    this.#compactor?.kill();
    await this.#compaction;
    await this.#writer.close();
    await this.#unlock();
  }

  get #lockPath(): string {
    return join(this.directory, 'usher.lock');
  }

  /** One process per folder: two writers would interleave their journals. A lock whose process is gone is stale. */
  async #lock(): Promise<void> {
    for (;;) {
      try {
        await writeFile(this.#lockPath, String(process.pid), { flag: 'wx' });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number(await readFile(this.#lockPath, 'utf8').catch(() => ''));
      if (owner === process.pid) throw new Error(`the store in ${this.directory} is already open in this process`);
      if (owner > 0 && isAlive(owner)) throw new Error(`the store in ${this.directory} is in use by process ${owner}`);
      await rm(this.#lockPath, { force: true });
    }
  }

  async #unlock(): Promise<void> {
    await rm(this.#lockPath, { force: true });
  }

  #open(): JournalWriter {
    if (!this.#writer || this.#closing) throw new Error(`the store in ${this.directory} is not open`);
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
        if (!this.#closing) this.#warn(`compaction failed; the journal still holds everything: ${String(error)}`, error);
      })
      .finally(() => {
        this.#compaction = undefined;
        this.#compactor = undefined;
        if (this.#behind) this.#startCompaction();
      });
  }

  async #compactClosedSegments(): Promise<void> {
    const files = await listDataFiles(this.directory);
    const current = this.#writer!.currentSegment;
    const closed = files.segments.filter((segment) => segment.path !== current).map((segment) => segment.path);
    if (closed.length === 0) return;
    const result = await this.#inChildProcess({ dir: this.directory, snapshot: files.snapshots[0]?.path ?? null, segments: closed });
    for (const snapshot of files.snapshots) if (snapshot.path !== result.snapshot) await rm(snapshot.path, { force: true });
    for (const segment of closed) await rm(segment, { force: true });
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
      child.once('message', (answer: { ok: true; result: CompactionResult } | { ok: false; error: string }) =>
        answer.ok ? resolve(answer.result) : reject(new Error(answer.error)),
      );
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`compaction process exited (${signal ?? code})`)));
      child.send(input);
    });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
