import type { ExecutionContext } from 'ava';
import { invariantViolations, type StoreContents } from '@usher/engine';

/** SPEC §5 invariants 1 and 2 on what an engine durably holds (the one check: `invariantViolations`). */
export function assertInvariants(t: ExecutionContext, contents: StoreContents): void {
  t.deepEqual(invariantViolations(contents), [], 'SPEC §5 invariants hold');
}
