import pg from 'pg';

/**
 * Samples a cluster's live active tokens in its database while the bench
 * runs (SPEC §5.5: admission never passes `maxActive`), every `everyMs` of
 * wall time (the servers run on the wall clock). `stop()` answers the
 * largest sample and how many were taken, and throws if one was above
 * `maxActive`. One indexed count per sample, on a connection of its own.
 */
export function sampleActive(databaseUrl: string, maxActive: number, everyMs = 500) {
  const client = new pg.Client({ connectionString: databaseUrl });
  let sampling = true;
  let max = 0;
  let samples = 0;
  let wake: (() => void) | undefined;
  const done = (async () => {
    await client.connect();
    try {
      while (sampling) {
        const { rows } = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tokens t WHERE usher_token_active(t, $1)',
          [Date.now()],
        );
        max = Math.max(max, rows[0]!.n);
        samples++;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, everyMs);
        });
      }
    } finally {
      await client.end();
    }
  })();
  return {
    async stop(): Promise<{ max: number; samples: number }> {
      sampling = false;
      wake?.();
      await done;
      if (max > maxActive)
        throw new Error(`${max} active tokens sampled, past maxActive ${maxActive}`);
      return { max, samples };
    },
  };
}
