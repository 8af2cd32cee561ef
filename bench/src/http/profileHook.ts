/**
 * Preloaded into a profiled server (`node --import profileHook.js`): the first `SIGUSR2` starts V8's CPU
 * profiler, the second stops it and writes the profile to `$BENCH_PROFILE_FILE`, so that a profile
 * holds only a measured window (not the start-up, the provisioning or the warm-up).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const file = process.env.BENCH_PROFILE_FILE;
if (file !== undefined) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // Every 100 µs (the default is 1 ms): a window of a few seconds gets tens of thousands of samples.
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  let running = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!running) {
        running = true;
        await session.post('Profiler.start');
        return;
      }
      running = false;
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${file}.tmp`, JSON.stringify(profile));
      const { renameSync } = await import('node:fs');
      renameSync(`${file}.tmp`, file);
    })();
  });
}
