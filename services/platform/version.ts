import { readFileSync } from 'node:fs';

/**
 * This program's version from package.json, found by walking up from this
 * file (the sources, dist/ and the image put it at different depths).
 */
export const packageVersion: string = (() => {
  for (let up = '../'; up.length <= 5 * 3; up += '../') {
    try {
      const manifest = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'minitoolstream' && manifest.version) return manifest.version;
    } catch {
      // Not at this depth: keep walking up.
    }
  }
  return 'unknown';
})();
