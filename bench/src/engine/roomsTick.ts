/**
 * The PostgreSQL keeper's tick with rooms of concerts (issue 25): one tick
 * serves every room, O(rooms + admitted). Times the tick with 1 room and with
 * 100 rooms of concerts (the default room beside them, empty), each room with
 * N waiting tokens, each tick admitting ADMIT_PER_TICK in every room.
 *
 * `node roomsTick.js 10000 [rooms…]` (default rooms: 1 100)
 *
 * The rooms and their lines are written with SQL as a keeper step leaves them
 * (tokens with their room's line numbers, one published `queue_ticks` row
 * with every room's part); the engine is opened after and loads them as any
 * instance does at start.
 */
import { createPostgresEngine } from '@usher/postgres';
import pg from 'pg';
import { openDatabase } from './postgres.js';

const perRoom = Number(process.argv[2] ?? 10_000);
const roomCounts = process.argv.length > 3 ? process.argv.slice(3).map(Number) : [1, 100];
const ADMIT_PER_TICK = 10;
const TICKS = 7;
const config = {
  queueTickMs: 86_400_000,
  holdSweepMs: 86_400_000,
  tokenActiveTtlMs: 86_400_000,
  queueWaitingTtlMs: 86_400_000,
  queueAdmitPerTick: ADMIT_PER_TICK,
  queueMaxActive: 5_000_000,
};
const round = (ms: number) => Math.round(ms * 100) / 100;

async function run(rooms: number) {
  const database = await openDatabase();
  try {
    await (
      await createPostgresEngine({
        connectionString: database.connectionString,
        config,
        keeper: false,
      })
    ).close();
    const now = Date.now();
    const seeding = performance.now();
    const client = new pg.Client({ connectionString: database.connectionString });
    await client.connect();
    await client.query(
      `INSERT INTO concerts (id, record)
       SELECT 'c' || r, json_build_object('id', 'c' || r, 'title', 'C' || r, 'room', json_build_object())
         FROM generate_series(1, $1::int) AS r`,
      [rooms],
    );
    await client.query(
      `INSERT INTO rooms (id, paused, admit_per_tick, max_active, opens_at, shuffle, pending_opening)
       SELECT 'c' || r, false, $2, $3, NULL, false, false FROM generate_series(1, $1::int) AS r`,
      [rooms, ADMIT_PER_TICK, config.queueMaxActive],
    );
    await client.query(
      `INSERT INTO tokens (token, user_id, status, seq, line, issued_at, expires_at, last_seen_at, room)
       SELECT 'tok-' || r || '-' || n, 'user-' || n, 'waiting', (r - 1) * $2 + n, n, $3, 0, $3, 'c' || r
         FROM generate_series(1, $1::int) AS r, generate_series(1, $2::bigint) AS n`,
      [rooms, perRoom, now],
    );
    await client.query(`SELECT setval('token_seq', $1)`, [rooms * perRoom]);
    const parts: Record<string, unknown> = {};
    for (let r = 1; r <= rooms; r++)
      parts[`c${r}`] = {
        lineEnd: perRoom,
        departed: [],
        admitted: 0,
        hadWaiting: false,
        waiting: perRoom,
        active: 0,
        room: {
          paused: false,
          admitPerTick: ADMIT_PER_TICK,
          maxActive: config.queueMaxActive,
          opensAt: null,
          shuffle: false,
          pendingOpening: false,
          soldOut: false,
          draw: null,
        },
      };
    await client.query(
      `INSERT INTO queue_ticks (no, at, real, line_end, seq_end, departed, admitted, had_waiting, waiting, active, next_abandon_at, rooms)
       VALUES (1, $1, true, 0, $2, '{}', 0, false, 0, 0, $3, $4)`,
      [now, rooms * perRoom, now + 86_400_000, JSON.stringify(parts)],
    );
    await client.query('VACUUM ANALYZE');
    await client.end();
    const seedMs = Math.round(performance.now() - seeding);

    const engine = await createPostgresEngine({
      connectionString: database.connectionString,
      config,
      keeper: false,
    });
    const ticks: number[] = [];
    for (let i = 0; i < TICKS; i++) {
      const begun = performance.now();
      const report = await engine.tick();
      ticks.push(performance.now() - begun);
      if (report.admitted !== ADMIT_PER_TICK * rooms)
        throw new Error(`tick admitted ${report.admitted}, not ${ADMIT_PER_TICK * rooms}`);
    }
    // A poll in the last room, through its mirror.
    const view = await engine.getToken(`tok-${rooms}-${perRoom}`);
    await engine.close();
    ticks.sort((a, b) => a - b);
    return {
      rooms,
      waitingPerRoom: perRoom,
      waiting: rooms * perRoom,
      seedMs,
      admittedPerTick: ADMIT_PER_TICK * rooms,
      tickMedianMs: round(ticks[Math.floor(TICKS / 2)]!),
      tickMaxMs: round(ticks[TICKS - 1]!),
      tickMsPerRoom: round(ticks[Math.floor(TICKS / 2)]! / (rooms + 1)),
      lastPosition: view.position,
    };
  } finally {
    await database.remove();
  }
}

for (const rooms of roomCounts) process.stdout.write(`${JSON.stringify(await run(rooms))}\n`);
