#!/usr/bin/env node
// The compiled CLI (npm run build, or npm start) when it is there. Straight after `npm ci`,
// before any build, the TypeScript sources run through tsx (a dev dependency), so `npx mts` works at once.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/services/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    process.stderr.write('mts: the CLI is not built and tsx is not installed: run "npm ci" then "npm run build"\n');
    process.exit(1);
  }
  tsx.register();
  await import(new URL('../services/cli/main.ts', import.meta.url).href);
}
