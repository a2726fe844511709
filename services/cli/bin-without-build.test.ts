import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

test('bin/mts.js works straight after npm ci, before anything is built', async (t) => {
  // A checkout as `npm ci` leaves it: sources and node_modules, no dist/.
  const clone = await mkdtemp(path.join(tmpdir(), 'mts-unbuilt-'));
  t.after(() => rm(clone, { recursive: true, force: true }));
  await mkdir(path.join(clone, 'bin'));
  await copyFile(path.join(repoRoot, 'bin/mts.js'), path.join(clone, 'bin/mts.js'));
  await copyFile(path.join(repoRoot, 'package.json'), path.join(clone, 'package.json'));
  for (const linked of ['node_modules', 'services', 'gen', 'tsconfig.json']) {
    await symlink(path.join(repoRoot, linked), path.join(clone, linked));
  }

  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/mts.js', '--help'], { cwd: clone });
  assert.equal(stderr, '');
  assert.match(stdout, /^Usage: mts <command> \[flags\]/);
  assert.match(stdout, /subscribe/);
});
