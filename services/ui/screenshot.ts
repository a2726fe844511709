import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';

/** Screenshots of each page land here (MTS_SCREENSHOT_DIR, else a temp folder named in the log). */
export const screenshotDir = process.env.MTS_SCREENSHOT_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mts-ui-screens-'));

/** The whole page as `<name>.png` in the screenshot folder: the tests' artifacts. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}
