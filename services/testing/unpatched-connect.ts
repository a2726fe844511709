import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const patchedPackages = ['connect', 'connect-node'];

/** Module URLs of the library as published: import() them beside the patched install. */
export interface UnpatchedConnect {
  connect: string;
  connectNode: string;
}

/**
 * Copies the installed @connectrpc/connect and @connectrpc/connect-node into `dir` and
 * reverses this repository's patches on the copy (patches/, applied at install by
 * patch-package), so the published library and the patched one can be compared in one run.
 * The copy shares the installed @bufbuild/protobuf.
 */
export function createUnpatchedConnect(dir: string): UnpatchedConnect {
  const scope = join(dir, 'node_modules/@connectrpc');
  mkdirSync(scope, { recursive: true });
  for (const name of patchedPackages) cpSync(join(repoRoot, 'node_modules/@connectrpc', name), join(scope, name), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules/@bufbuild'), join(dir, 'node_modules/@bufbuild'), 'dir');
  const patches = readdirSync(join(repoRoot, 'patches')).filter((file) => file.startsWith('@connectrpc+'));
  if (patches.length === 0) throw new Error('no @connectrpc patches in patches/');
  for (const file of patches) {
    const result = spawnSync('git', ['apply', '-R', join(repoRoot, 'patches', file)], { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`reversing ${file} failed: ${result.stderr}`);
  }
  return {
    connect: pathToFileURL(join(scope, 'connect/dist/esm/index.js')).href,
    connectNode: pathToFileURL(join(scope, 'connect-node/dist/esm/index.js')).href,
  };
}
