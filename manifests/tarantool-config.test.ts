/**
 * The Tarantool ConfigMap is generated from manifests/tarantool/init.lua, a copy of
 * services/tarantool/init.lua (kustomize cannot read outside manifests/). This fails whenever
 * the two differ; scripts/sync-tarantool-config.sh makes them equal again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { find, generatedConfigMaps, loadAll, podTemplate, repoRoot, type KubeObject } from './manifest-set.js';

const source = join(repoRoot, 'services/tarantool/init.lua');

test('the tarantool-init ConfigMap holds exactly services/tarantool/init.lua', () => {
  assert.ok(existsSync(source), 'services/tarantool/init.lua does not exist');
  const configMap = generatedConfigMaps().find(({ object }) => object.metadata.name === 'tarantool-init');
  assert.ok(configMap, 'kustomization.yaml has no tarantool-init generator');
  const data = (configMap.object as KubeObject & { data: Record<string, string> }).data;
  assert.ok('init.lua' in data, 'manifests/tarantool/init.lua is missing: run scripts/sync-tarantool-config.sh');
  assert.equal(
    data['init.lua'],
    readFileSync(source, 'utf8'),
    'manifests/tarantool/init.lua is stale: run scripts/sync-tarantool-config.sh',
  );
});

test('the Tarantool pod mounts that ConfigMap where its command expects init.lua', () => {
  const spec = podTemplate(find(loadAll(), 'StatefulSet', 'tarantool')).spec!;
  const volume = spec.volumes!.find((candidate) => candidate.configMap?.name === 'tarantool-init');
  assert.ok(volume);
  const mount = spec.containers[0]!.volumeMounts!.find((candidate) => candidate.name === volume.name);
  assert.equal(`${mount?.mountPath}/init.lua`, spec.containers[0]!.command![1]);
});
