import { EngineError, type EngineConfig, type QueueToken } from '@usher/engine';
import { requireReadable, requireTokenArg, tokenView } from '@usher/engine/rules';
import { isTokenArg, MAX_TRIES, type CommandRunner } from '../CommandRunner.js';
import { query } from '../database.js';
import { NOWHERE, type Facts } from '../LineMirror.js';
import { tokenState, type TokenRow, type ViewKind } from '../reads.js';

/** The token alone (polls, `tokenOwner`). */
export const TOKEN_VIEW: ViewKind = { name: 'token', params: [] };

/** A poll is recorded when the stored one is older than this (lazily: most polls are reads). */
export function pollSlackMs(config: EngineConfig): number {
  return Math.max(1, Math.floor(config.queueWaitingTtlMs / 10));
}

/**
 * A token's view, as a poll: a waiting token's poll is recorded (lazily,
 * `usher_record_polls`); a token that ended for a reason (sold out) is kept
 * and says why. `known`: the facts a command has just read.
 */
export async function pollToken(
  runner: CommandRunner,
  token: unknown,
  now: number,
  known?: Facts,
): Promise<QueueToken> {
  requireTokenArg(token);
  const { config, lifecycles } = runner;
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const facts =
      tries === 0 && known ? known : (await runner.view<object>(token, now, TOKEN_VIEW, [])).facts;
    const live = requireReadable(facts.token, now, lifecycles);
    let lastSeenAt = facts.lastSeenAt;
    const slack = pollSlackMs(config);
    if (live.status === 'waiting' && lastSeenAt < now - slack) {
      const { rows } = await query(
        runner.db,
        'SELECT usher_record_polls(ARRAY[$1], $2, $3, $4) AS token',
        [live.token, now, config.queueWaitingTtlMs, slack],
      );
      if (rows.length === 0) continue; // admitted, abandoned or polled meanwhile: look again
      lastSeenAt = now;
    }
    return tokenView(
      live,
      live.status === 'waiting' ? facts.placeOf(live) : NOWHERE,
      lastSeenAt,
      config,
    );
  }
  throw new EngineError('UNAVAILABLE', 'the token kept changing; try again');
}

/** The user of a token the engine knows (kept, expired tokens too, as in the embedded engine; ended ones not). */
export async function tokenOwner(
  runner: CommandRunner,
  token: unknown,
  now: number,
): Promise<string | undefined> {
  if (!isTokenArg(token)) return undefined;
  const row = (await runner.readRow(TOKEN_VIEW, { token, now, params: [] })) as unknown as TokenRow;
  if (!row.token) return undefined;
  return row.status === 'expired' || tokenState(row, now, runner.config, runner.lifecycles)
    ? row.user_id!
    : undefined;
}
