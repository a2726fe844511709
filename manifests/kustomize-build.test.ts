/**
 * When kubectl is installed, its bundled kustomize builds manifests/ and yields exactly the
 * objects the other tests read, in the namespace minitoolstream, with the generated ConfigMap
 * references rewritten. Without kubectl the test says so and is skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { loadAll, manifestsDir, type KubeObject } from './manifest-set.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

test('kubectl kustomize builds the same objects the tests read', { skip: hasKubectl ? false : 'kubectl is not installed' }, () => {
  const build = spawnSync('kubectl', ['kustomize', manifestsDir], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const output = build.stdout;
  const built = parseAllDocuments(output).map((document) => document.toJS() as KubeObject);
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
