import type { IssuedToken, JoinOptions } from '@usher/engine';
import {
  DEFAULT_ROOM,
  hashCode,
  requireCodeArg,
  requireConcert,
  requireId,
  roomOfConcert,
  decideIssue,
  tokenView,
  userIdProblem,
  type Decision,
  type Issued,
  type RoomState,
  type TokenState,
} from '@usher/engine/rules';
import { nanoid } from 'nanoid';
import { changesOf, type ApplyCall, type ApplyKind } from '../applies.js';
import type { CommandRunner } from '../CommandRunner.js';
import { NOWHERE, type Arrival, type Facts } from '../LineMirror.js';
import { isStale, TOKEN_COLUMNS, type TokenRow, type ViewKind } from '../reads.js';
import { ensureRooms, ROOM_COLUMNS, roomRow } from '../room.js';
import { pollToken } from './tokens.js';

/**
 * The issue view, by user and room (the item's key is the user id; `p1` the
 * configured `maxActive`, for a room row not created yet; `p2` the room):
 * the user's live token in the room, whether anyone of the room waits, the
 * room, and (when nobody waits) how many of the room are active. For the
 * default room that is `usher_active_bound()` while it is under `maxActive`
 * (a bound of every room's active tokens, so of the default room's): then so
 * is the number of active tokens, and the issue rule only compares the two.
 * At the bound, and in a room of a concert, the room's live active tokens are
 * counted, up to `maxActive` (`tokens_room_active`).
 */
export const ISSUE_VIEW: ViewKind = {
  name: 'issue',
  params: ['integer', 'text'],
  sql: `SELECT q.i, tk.*, w.someone_waits, (SELECT row_to_json(r) FROM (SELECT ${ROOM_COLUMNS} FROM room_states WHERE id = q.room) r) AS room_state,
    CASE WHEN NOT w.someone_waits THEN
      (SELECT CASE WHEN q.room = 'default' AND b.bound < m.max_active THEN b.bound
                   ELSE (SELECT count(*) FROM (SELECT 1 FROM tokens t WHERE t.room = q.room AND usher_token_active(t, q.now) LIMIT m.max_active) a) END
         FROM (SELECT usher_active_bound() AS bound) b)
    END AS active
  FROM unnest($1::text[], $2::bigint[], $4::integer[], $5::text[]) WITH ORDINALITY AS q (user_id, now, configured, room, i)
  CROSS JOIN LATERAL (SELECT coalesce((SELECT max_active FROM room_states WHERE id = q.room), q.configured) AS max_active) m
  CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM tokens t WHERE t.room = q.room AND usher_waiter_present(t, q.now, $3::bigint)) AS someone_waits) w
  LEFT JOIN LATERAL (SELECT ${TOKEN_COLUMNS} FROM tokens t
                      WHERE t.user_id = q.user_id AND t.room = q.room AND t.status IN ('waiting', 'active')) tk ON true`,
};

/** `usher_issue`'s fields (migration 1, `issue.ts`). */
export interface IssueArgs {
  readonly now: number;
  readonly token: string;
  readonly user_id: string;
  readonly status: string;
  readonly issued_at: number;
  readonly expires_at: number;
  readonly waiting_ttl: number;
  readonly max_active: number;
  /** The room (migration 7's `usher_room_issue`). */
  readonly room: string;
}

const issueSql = 'SELECT err, msg, result FROM usher_issue_in_room_many($1::json)';
/** Waiting tokens: batched as any apply. */
export const ISSUE: ApplyKind<IssueArgs> = { type: 'usher_room_issue', sql: issueSql };
/** `usher_room_code_issue`'s fields (migration 7): an issue's, and the presale code it spends. */
export interface CodeIssueArgs extends IssueArgs {
  readonly code_hash: string;
  readonly code_room: string;
}

const codeIssueSql = 'SELECT err, msg, result FROM usher_issue_with_code_in_room_many($1::json)';
/** A waiting token with a presale code: the code is spent with the insert (migrations 4 and 7). */
export const CODE_ISSUE: ApplyKind<CodeIssueArgs> = {
  type: 'usher_room_code_issue',
  sql: codeIssueSql,
};
/** A token with a presale code admitted at once. */
export const CODE_ISSUE_AT_ONCE: ApplyKind<CodeIssueArgs> = {
  type: 'usher_room_code_issue',
  sql: codeIssueSql,
  exclusive: true,
};

/** Tokens admitted at once: a batch holds the step lock exclusively to its commit. */
export const ISSUE_AT_ONCE: ApplyKind<IssueArgs> = {
  type: 'usher_room_issue',
  sql: issueSql,
  exclusive: true,
};

/** The apply of an issue decision, restating the room's `maxActive` it was decided on. */
export function issueApply(
  decision: Decision<unknown>,
  now: number,
  waitingTtlMs: number,
  room: RoomState,
  roomId: string = DEFAULT_ROOM,
): ApplyCall<IssueArgs> | ApplyCall<CodeIssueArgs> | undefined {
  const { tokenIssued, codeSpent } = changesOf(decision, ['tokenIssued', 'codeSpent']);
  const token = tokenIssued?.token;
  if (!token) return undefined;
  const args: IssueArgs = {
    now,
    token: token.token,
    user_id: token.userId,
    status: token.status,
    issued_at: token.issuedAt,
    expires_at: token.expiresAt,
    waiting_ttl: waitingTtlMs,
    max_active: room.maxActive,
    room: roomId,
  };
  if (codeSpent)
    return {
      kind: token.status === 'active' ? CODE_ISSUE_AT_ONCE : CODE_ISSUE,
      user: token.userId,
      args: { ...args, code_hash: codeSpent.hash, code_room: codeSpent.room },
    };
  return { kind: token.status === 'active' ? ISSUE_AT_ONCE : ISSUE, user: token.userId, args };
}

/** The room a join names (SPEC §12): the default room without a concert, else the concert's (`CONCERT_NOT_FOUND` for none). */
async function roomOfJoin(runner: CommandRunner, concertId: unknown): Promise<string> {
  if (concertId === undefined) return DEFAULT_ROOM;
  const id = requireId(concertId, 'concertId');
  const { rows } = await runner.db.query<{ id: string; record: Record<string, unknown> }>(
    'SELECT id, record FROM concerts WHERE id = $1',
    [id],
  );
  const concert = requireConcert(rows[0], id);
  return roomOfConcert({ id: concert.id, room: concert.record['room'] });
}

/** An id from nanoid (21 characters), flat (see `newId` in `@usher/engine`). */
export function newId(): string {
  return Buffer.from(nanoid(), 'latin1').toString('latin1');
}

/** Issuing (see `UsherEngine.issueToken`): the user's live token, or a new one, waiting or admitted at once. */
export function issueToken(
  runner: CommandRunner,
  userId: string,
  options: JoinOptions = {},
): Promise<IssuedToken> {
  return runner.run(async (now) => {
    const { config, lifecycles, line } = runner;

    const fresh = () => ({ token: newId(), seq: 0 });
    // A user id the user id rule refuses reads nothing: the issue rule refuses it, as on the embedded engine.
    if (userIdProblem(userId) !== undefined) {
      decideIssue(
        { live: undefined, waiting: 0, active: 0, room: line.room },
        userId,
        now,
        config,
        lifecycles,
        fresh(),
      );
    }
    const roomId = await roomOfJoin(runner, options.concertId);
    const code = requireCodeArg(options.code);
    const hash = code === undefined ? undefined : hashCode(code);
    let facts: Facts | undefined;
    let created: TokenState | undefined;
    const { answer, result } = await runner.decide<Issued>(
      'issueToken',
      now,
      userId,
      async (db) => {
        // The room is read with the view: admission at issue follows the operator's settings at once.
        const row = (await runner.readRow(
          ISSUE_VIEW,
          { token: userId, now, params: [config.queueMaxActive, roomId] },
          db,
        )) as unknown as TokenRow & {
          someone_waits: boolean;
          active: string | null;
          room_state: Record<string, unknown> | null;
        };
        if (row.status === 'waiting' && isStale(row, now, config, lifecycles)) {
          // The user's waiting token was abandoned but no keeper step has removed it from the line: one does
          // now (only steps change the line), then a new token can be issued. An active token past its
          // deadline is in no line: the issue removes it with the new token's insert.
          await line.catchUp(now);
          return 'again';
        }
        const found = await line.factsOf(row.token, row.token ? row : undefined, now);
        if (found === 'again') return found;
        facts = found;
        if (!row.room_state && roomId !== DEFAULT_ROOM) {
          // A concert's room whose row a catalog load cut short has not written yet.
          await ensureRooms(db, config, now);
          return 'again';
        }
        const room = row.room_state ? roomRow(row.room_state).room : line.room;
        let codeFacts;
        if (hash !== undefined) {
          const { rows } = await db.query<{ room: string; spent_at: string | null }>(
            'SELECT room, spent_at FROM presale_codes WHERE hash = $1',
            [hash],
          );
          const known = rows[0];
          codeFacts = { hash, usable: known?.room === roomId && known.spent_at === null };
        }
        const view = {
          live: found.token,
          waiting: row.someone_waits ? 1 : 0,
          active: Number(row.active ?? room.maxActive),
          room,
          roomId,
          code: codeFacts,
        };
        const decision = decideIssue(view, userId, now, config, lifecycles, fresh());
        created = decision.answer.created ? decision.answer.token : undefined;
        const apply = issueApply(decision, now, config.queueWaitingTtlMs, room, roomId);
        return apply ? { decision, apply } : { decision };
      },
    );
    // The user's live token again, which counts as a poll.
    if (!answer.created)
      return { token: await pollToken(runner, answer.token.token, now, facts), created: false };
    // Issued already ended (sold out): nothing was stored.
    if (answer.token.status === 'expired')
      return { token: tokenView(answer.token, NOWHERE, now, config, answer.reason), created: true };
    let place = NOWHERE;
    // With a code: its place at the head of the line, as a poll reads it.
    if (created?.status === 'waiting' && hash !== undefined)
      return { token: await pollToken(runner, answer.token.token, now), created: true };
    if (created?.status === 'waiting') {
      const arrival = (result ?? {}) as Partial<Record<keyof Arrival, string | number>>;
      const found = await line.arrivalPlace(
        {
          seq: Number(arrival.seq),
          gone: Number(arrival.gone ?? 0),
          tick: Number(arrival.tick ?? 0),
        },
        now,
        roomId,
      );
      if (!found) return { token: await pollToken(runner, answer.token.token, now), created: true };
      place = found;
    }
    return { token: tokenView(answer.token, place, now, config), created: true };
  });
}
