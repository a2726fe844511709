/**
 * The deployment scripts pass shellcheck, answer --help, and name what is missing before they
 * touch anything (run here with a PATH that has no docker, kubectl or k3s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const scriptsDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = dirname(scriptsDir);
const scripts = readdirSync(scriptsDir).filter((name) => name.endsWith('.sh'));
const all = [...scripts.map((name) => join('scripts', name)), 'scripts/lib/common.sh'];

test('shellcheck passes on every script', () => {
  const result = spawnSync('shellcheck', ['--external-sources', ...all], { cwd: repoRoot, encoding: 'utf8' });
  assert.ok(!result.error, `shellcheck could not run (is it installed?): ${result.error?.message}`);
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('every script is strict and answers --help', () => {
  for (const expected of ['build-image.sh', 'deploy.sh', 'sync-tarantool-config.sh', 'undeploy.sh']) {
    assert.ok(scripts.includes(expected), `scripts/${expected} is missing`);
  }
  for (const script of scripts) {
    const result = spawnSync(join(scriptsDir, script), ['--help'], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${script}: ${result.stderr}`);
    assert.match(result.stdout, /^Usage: /, script);
  }
});

/** A PATH with only the tools the scripts use besides docker, kubectl and k3s. */
function barePath(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mts-path-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const tool of ['bash', 'env', 'dirname', 'basename', 'id', 'cmp', 'cp']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(dir, tool));
  }
  return dir;
}

const missing: Array<[script: string, args: string[], message: RegExp]> = [
  ['build-image.sh', ['latest'], /docker is not installed/],
  ['build-image.sh', ['ingress', 'v1.1.0'], /docker is not installed/],
  ['deploy.sh', [], /kubectl is not installed/],
  ['undeploy.sh', ['egress'], /kubectl is not installed/],
];

for (const [script, args, message] of missing) {
  test(`${script} ${args.join(' ')} says what is missing`, (t) => {
    const result = spawnSync(join(scriptsDir, script), args, { encoding: 'utf8', env: { PATH: barePath(t) } });
    assert.equal(result.status, 1);
    assert.match(result.stderr, message);
  });
}

test('bad arguments are refused with the usage', () => {
  for (const [script, args] of [
    ['deploy.sh', ['sideways']],
    ['undeploy.sh', ['all', 'extra']],
    ['build-image.sh', ['ingress', 'bad tag']],
  ] as const) {
    const result = spawnSync(join(scriptsDir, script), [...args], { encoding: 'utf8' });
    assert.equal(result.status, 1, script);
    assert.match(result.stderr, /error: /, script);
  }
});
