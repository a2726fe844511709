/**
 * When kubectl is installed, its bundled kustomize builds manifests/ and yields exactly the
 * objects the other tests read, in the namespace minitoolstream, with the generated ConfigMap
 * references rewritten; an overlay with the TLS component yields the Deployments the tests see
 * through withComponent. Without kubectl the tests say so and are skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadAll, manifestsDir, withComponent, type KubeObject } from './manifest-set.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

const skip = hasKubectl ? false : 'kubectl is not installed';

function build(dir: string): { output: string; built: KubeObject[] } {
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return { output: run.stdout, built: parseAllDocuments(run.stdout).map((document) => document.toJS() as KubeObject) };
}

test('kubectl kustomize builds the same objects the tests read', { skip }, () => {
  const { output, built } = build(manifestsDir);
  const key = (object: KubeObject) => `${object.kind}/${object.metadata.name.replace(/^(tarantool-init)-[a-z0-9]{10}$/, '$1')}`;
  assert.deepEqual(
    built.map(key).sort(),
    loadAll()
      .map(({ object }) => key(object))
      .sort(),
  );
  for (const object of built) {
    if (object.kind !== 'Namespace') assert.equal(object.metadata.namespace, 'minitoolstream', key(object));
  }
  const hashedName = built.find((object) => key(object) === 'ConfigMap/tarantool-init')!.metadata.name;
  assert.match(output, new RegExp(`name: ${hashedName}\\n`), 'the StatefulSet refers to the hashed ConfigMap');
});

test('an overlay with components/tls builds the Deployments withComponent makes', { skip }, (t) => {
  // Kustomize refuses an overlay inside its own base, so the overlay lives in a temp folder.
  const overlay = mkdtempSync(join(tmpdir(), 'mts-tls-overlay-'));
  t.after(() => rmSync(overlay, { recursive: true, force: true }));
  const base = relative(overlay, manifestsDir);
  writeFileSync(
    join(overlay, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${base}\ncomponents:\n  - ${base}/components/tls\n`,
  );
  const deployments = (objects: KubeObject[]) =>
    objects.filter((object) => object.kind === 'Deployment').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const expected = deployments(withComponent(loadAll(), 'components/tls').map(({ object }) => object));
  assert.equal(expected.length, 2);
  assert.deepEqual(deployments(build(overlay).built), expected);
});
