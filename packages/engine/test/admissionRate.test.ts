import test from 'ava';
import { AdmissionRate } from '../src/queue/AdmissionRate.js';

/** One active place of a 10-minute window, ticks of a second, up to 100 admitted per tick. */
const onePlace = { admitPerTick: 100, tickMs: 1_000, maxActive: 1, activeTtlMs: 600_000 };

/** Runs `ticks` ticks with people waiting, one place freeing every `every` ticks (never for 0). */
function run(rate: AdmissionRate, ticks: number, every: number): AdmissionRate {
  for (let tick = 1; tick <= ticks; tick++) rate.observe(every !== 0 && tick % every === 0 ? 1 : 0);
  return rate;
}

test('one active place of a 10-minute window: the first in line is told minutes, not seconds', (t) => {
  const rate = new AdmissionRate(onePlace);
  t.is(rate.secondsFor(0), 0);
  t.is(
    rate.secondsFor(1),
    600,
    'before anything is seen: the worst case, the active user keeps the place to the end',
  );
  t.is(rate.secondsFor(25), 25 * 600);
  // Nobody leaves: the estimate stays there (it used to start at 1 s and take a minute to get there).
  for (let tick = 0; tick < 120; tick++) {
    rate.observe(0);
    t.is(rate.secondsFor(1), 600);
  }
  t.is(rate.perSecond, 1 / 600);
});

test('a single early admission does not make the estimate seconds', (t) => {
  const rate = new AdmissionRate(onePlace);
  rate.observe(0);
  rate.observe(1);
  t.true(rate.secondsFor(1) >= 60, `${rate.secondsFor(1)} s`);
});

test('the estimate speeds up as places free faster, and follows the rate it sees', (t) => {
  const tenMinutes = 600;
  const never = run(new AdmissionRate(onePlace), tenMinutes, 0).secondsFor(1);
  const everyFiveMinutes = run(new AdmissionRate(onePlace), 2 * tenMinutes, 300).secondsFor(1);
  const everyMinute = run(new AdmissionRate(onePlace), tenMinutes, 60).secondsFor(1);
  const everyHalfMinute = run(new AdmissionRate(onePlace), tenMinutes, 30).secondsFor(1);
  const everyFiveSeconds = run(new AdmissionRate(onePlace), tenMinutes, 5).secondsFor(1);
  t.is(never, 600);
  t.true(
    never > everyFiveMinutes &&
      everyFiveMinutes > everyMinute &&
      everyMinute > everyHalfMinute &&
      everyHalfMinute > everyFiveSeconds,
  );
  t.true(everyMinute >= 60 && everyMinute <= 90, `every minute: ${everyMinute} s`);
  t.true(everyHalfMinute >= 30 && everyHalfMinute <= 45, `every half minute: ${everyHalfMinute} s`);
  t.true(everyFiveSeconds >= 5 && everyFiveSeconds <= 8, `every 5 s: ${everyFiveSeconds} s`);
});

test('it slows down again when places stop freeing', (t) => {
  const rate = run(new AdmissionRate(onePlace), 600, 5);
  const fast = rate.secondsFor(1);
  run(rate, 1_200, 0);
  t.true(rate.secondsFor(1) > 10 * fast, `${fast} s, then ${rate.secondsFor(1)} s`);
});

test('the rate stays between the worst case and admitPerTick every tick', (t) => {
  const config = { admitPerTick: 10, tickMs: 500, maxActive: 1_000, activeTtlMs: 600_000 };
  const flood = new AdmissionRate(config);
  for (let tick = 0; tick < 1_000; tick++) flood.observe(10);
  t.true(
    flood.perSecond > 19.99 && flood.perSecond <= 20,
    `at best 10 per tick of half a second: ${flood.perSecond}`,
  );
  for (let tick = 0; tick < 100; tick++) flood.observe(1_000);
  t.is(flood.perSecond, 20, 'never more');
  t.is(flood.secondsFor(20), 1);
  const dry = new AdmissionRate(config);
  for (let tick = 0; tick < 1_000; tick++) dry.observe(0);
  t.is(dry.perSecond, 1_000 / 600, 'at worst every place is kept to the end');
});
