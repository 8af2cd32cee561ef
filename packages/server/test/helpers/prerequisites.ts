import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import test, { type ExecutionContext, type Implementation } from 'ava';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, which the browser tests drive through playwright-core (no browser download). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** Whether `command` is an executable on the PATH, as the shell would find it. */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && executable(join(dir, command)));
}

/** Why the browser tests cannot run here, or `undefined` when they can. */
export const withoutChromium = executable(CHROMIUM)
  ? undefined
  : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

/**
 * `test`, or, when `missing` says what this test needs and the machine lacks, a test that fails at once
 * saying so (never a silent skip). `pnpm test` installs what the tests need first
 * (scripts/test-prerequisites.sh), so this happens only when ava is run by hand on a machine without it.
 */
export function testNeeding(
  missing: string | undefined,
): (title: string, implementation: Implementation<[]>) => void {
  return (title, implementation) =>
    missing === undefined
      ? test(title, implementation)
      : test(title, (t) => {
          t.fail(`${missing}: run scripts/test-prerequisites.sh (pnpm test does) first`);
        });
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Headless Chromium ({@link CHROMIUM}) for one test, closed when it ends. */
export async function launchChromium(t: ExecutionContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  t.teardown(() => browser.close());
  return browser;
}
