/**
 * usher as a library: one engine on a lowdb folder, a small catalog, and two
 * people going from the waiting room to a paid seat. Given a folder, run it
 * twice: the second run finds the first run's sale there. Without one, it uses
 * a temp folder and removes it at the end.
 *
 *   npx --yes pnpm@10 --filter @usher/example-embed start   [folder]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine, EngineError } from '@usher/engine';
import { LowdbStore } from '@usher/engine/lowdb';

// A folder given is relative to where you ran the command (pnpm and npm run scripts
// in the package's folder, and say where you were in INIT_CWD).
const given = process.argv[2];
const folder =
  given === undefined
    ? mkdtempSync(join(tmpdir(), 'usher-embed-'))
    : resolve(process.env.INIT_CWD ?? process.cwd(), given);
if (given === undefined)
  process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
const say = (who: string, what: string) => console.log(`${who.padEnd(6)} ${what}`);

// 1. An engine on a lowdb folder. One active buyer at a time, so the second one waits.
const engine = await createEngine({
  store: new LowdbStore(folder),
  config: { queueMaxActive: 1, holdTtlMs: 5 * 60_000 },
});
say('engine', `opened ${folder}`);

// 2. A catalog (loading the same one again is harmless: identical entries are skipped).
const loaded = await engine.loadCatalog({
  concerts: [{ id: 'spring', title: 'Spring Concert', artist: 'IU', venue: 'Olympic Hall' }],
  schedules: [
    {
      id: 'spring-0501',
      concertId: 'spring',
      startsAt: '2027-05-01T19:00:00+09:00',
      totalSeats: 10,
      prices: [
        { from: 1, to: 4, price: 150_000 },
        { from: 5, to: 10, price: 99_000 },
      ],
    },
  ],
});
say('engine', `catalog: ${loaded.concertsAdded} concert and ${loaded.schedulesAdded} date added`);

// 3. Both join the waiting room. The first is active at once; the second gets a place in line.
const ann = (await engine.issueToken('ann')).token;
const bob = (await engine.issueToken('bob')).token;
say('ann', `token ${ann.status}`);
say(
  'bob',
  `token ${bob.status}, number ${bob.position} in line, about ${bob.estimatedWaitSeconds} s`,
);

// 4. Ann looks around and holds a seat.
const [concert] = await engine.listConcerts(ann.token);
const [date] = await engine.listSchedules(ann.token, concert!.id);
const { seats } = await engine.listSeats(ann.token, date!.id);
say('ann', `${concert!.title} on ${date!.startsAt}: ${seats.length} seats left`);
const choice = seats.find((seat) => seat.price === 150_000)!;
const hold = await engine.reserve(ann.token, { scheduleId: date!.id, seatNo: choice.seatNo });
say('ann', `holds seat ${hold.seatNo} for ${hold.price} until ${hold.expiresAt}`);

// 5. Bob may not do anything yet: every command but the token's own needs an active token.
try {
  await engine.listConcerts(bob.token);
} catch (error) {
  if (!(error instanceof EngineError)) throw error;
  say('bob', `refused: ${error.code} (${error.message})`);
}

// 6. Ann charges her wallet and pays. Keys make retries safe: a retry answers the first payment again.
await engine.charge(
  ann.token,
  { userId: 'ann', amount: 200_000 },
  { idempotencyKey: `top-up-${randomUUID()}` },
);
const payKey = `pay-${randomUUID()}`;
const payment = await engine.pay(ann.token, { reservationId: hold.id }, { idempotencyKey: payKey });
say('ann', `paid ${payment.amount}; ${payment.balance} left in the wallet`);
const retry = await engine.pay(ann.token, { reservationId: hold.id }, { idempotencyKey: payKey });
say(
  'ann',
  `retried with the same key: ${retry.id === payment.id ? 'the same payment, not a second one' : 'a second payment?!'}`,
);

// 7. The payment ended Ann's turn. The scheduler (every queueTickMs, or tick() now) admits Bob.
const tick = await engine.tick();
say('engine', `tick: ${tick.admitted} admitted, ${tick.waiting} waiting, ${tick.active} active`);
say('bob', `token ${(await engine.getToken(bob.token)).status}`);

// 8. Bob wants the same seat. It is sold; he takes the next one.
try {
  await engine.reserve(bob.token, { scheduleId: date!.id, seatNo: hold.seatNo });
} catch (error) {
  if (!(error instanceof EngineError)) throw error;
  say('bob', `seat ${hold.seatNo}: ${error.code}`);
}
const next = (await engine.listSeats(bob.token, date!.id)).seats[0]!;
const bobHold = await engine.reserve(bob.token, { scheduleId: date!.id, seatNo: next.seatNo });
await engine.charge(bob.token, { userId: 'bob', amount: bobHold.price });
const bobPayment = await engine.pay(bob.token, { reservationId: bobHold.id });
say('bob', `paid ${bobPayment.amount} for seat ${bobHold.seatNo}`);

// 9. Close: waits until everything is on disk.
const stats = await engine.stats();
say('engine', `${stats.paidSeats} seats sold, ${stats.payments} payments; closing`);
await engine.close();
say(
  'engine',
  given === undefined
    ? `closed; ${folder} removed (give a folder to keep the data)`
    : `closed; the data stays in ${folder}`,
);
