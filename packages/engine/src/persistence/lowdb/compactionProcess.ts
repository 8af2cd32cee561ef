/**
 * Entry of the compaction child process: takes one {@link CompactionInput}
 * over IPC, answers one {@link CompactionResult}, exits. A separate process
 * keeps the whole-state JSON work off the server's event loop and heap.
 */
import { compact, type CompactionInput } from './compact.js';

process.once('message', (input: CompactionInput) => {
  compact(input).then(
    (result) => process.send!({ ok: true, result }, () => process.disconnect()),
    (error: unknown) => process.send!({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.disconnect()),
  );
});
