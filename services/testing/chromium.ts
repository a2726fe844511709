import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

// Flags for a root, offline machine: no sandbox, no background calls home.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's chromium (CHROMIUM_PATH to use another) with `extraArgs`, closed when the test ends. */
export async function launchChromium(t: TestContext, extraArgs: string[] = []): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...chromiumArgs, ...extraArgs],
  });
  t.after(() => browser.close());
  return browser;
}
