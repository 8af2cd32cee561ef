import test from 'ava';
import {
  configBounds,
  createEngine,
  defaultConfig,
  EngineError,
  type EngineConfig,
} from '@usher/engine';

const options = Object.keys(defaultConfig) as (keyof EngineConfig)[];

test('an over-large hold TTL is refused at start, naming the option', async (t) => {
  const error = await t.throwsAsync(
    createEngine({ config: { holdTtlMs: 8_640_000_000_000_000 } }),
    { instanceOf: EngineError },
  );
  t.is(error?.code, 'VALIDATION_FAILED');
  t.regex(error!.message, /holdTtlMs/);
});

test('every option has bounds that hold its default; one past either end is refused, naming the option', async (t) => {
  t.deepEqual(Object.keys(configBounds).sort(), [...options].sort());
  for (const option of options) {
    const { min, max } = configBounds[option];
    t.true(min <= defaultConfig[option] && defaultConfig[option] <= max, option);
    for (const value of [min - 1, max + 1]) {
      const error = await t.throwsAsync(
        createEngine({ config: { [option]: value } }),
        { instanceOf: EngineError },
        `${option}: ${value}`,
      );
      t.regex(error!.message, new RegExp(`\\b${option}\\b.*${min}.*${max}`), option);
    }
  }
});

test('the bounds keep times within one timer and money within safe integers', async (t) => {
  const { holdTtlMs, holdSweepMs, queueTickMs, tokenActiveTtlMs, queueWaitingTtlMs } = configBounds;
  for (const bound of [holdTtlMs, holdSweepMs, queueTickMs, tokenActiveTtlMs, queueWaitingTtlMs])
    t.true(bound.max <= 2_147_483_647);
  t.true(
    Number.isSafeInteger(configBounds.maxBalance.max + configBounds.maxChargeAmount.max),
    'a balance plus a charge is a safe integer',
  );
  t.is(configBounds.idempotencyTtlMs.min, 86_400_000, 'keys are kept at least 24 h');
  // Every option at its upper bound at once is a valid engine.
  const config = Object.fromEntries(
    options.map((option) => [option, configBounds[option].max]),
  ) as unknown as EngineConfig;
  const engine = await createEngine({ config });
  t.deepEqual(engine.config, config);
  await engine.close();
});
