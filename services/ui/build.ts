import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface BuiltDashboard {
  /** Every file written, by name, with its size in bytes. */
  files: Record<string, number>;
}

/**
 * Bundles the dashboard into `outDir` (emptied first): index.html and
 * content-hashed, minified JavaScript and CSS, everything the page needs,
 * so it loads nothing from elsewhere.
 */
export async function buildDashboard(outDir: string): Promise<BuiltDashboard> {
  await fs.rm(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints: {
      app: fileURLToPath(new URL('./main.ts', import.meta.url)),
      style: fileURLToPath(new URL('./style.css', import.meta.url)),
    },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    entryNames: '[name]-[hash]',
    outdir: outDir,
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
  const script = outputs.find((name) => name.endsWith('.js'))!;
  const style = outputs.find((name) => name.endsWith('.css'))!;
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>MiniToolStream</title>',
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="${style}">`,
    `<script type="module" src="${script}"></script>`,
    '</head>',
    '<body></body>',
    '</html>',
    '',
  ].join('\n');
  await fs.writeFile(path.join(outDir, 'index.html'), html);
  const files: Record<string, number> = {};
  for (const name of await fs.readdir(outDir)) files[name] = (await fs.stat(path.join(outDir, name))).size;
  return { files };
}
