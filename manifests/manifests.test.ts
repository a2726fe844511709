import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import {
  container,
  find,
  listManifestFiles,
  loadAll,
  kustomizationFiles,
  manifestsDir,
  namespace,
  podTemplate,
  repoRoot,
  withComponent,
  type KubeObject,
} from './manifest-set.js';

interface Model {
  new (data: KubeObject): { validate(): void };
}

/** The API schema of every kind the manifests may use; anything else is a failure. */
const schemas: Record<string, Model> = {
  'v1/Namespace': core.Namespace as unknown as Model,
  'v1/ConfigMap': core.ConfigMap as unknown as Model,
  'v1/Secret': core.Secret as unknown as Model,
  'v1/Service': core.Service as unknown as Model,
  'v1/ServiceAccount': core.ServiceAccount as unknown as Model,
  'apps/v1/Deployment': apps.Deployment as unknown as Model,
  'apps/v1/StatefulSet': apps.StatefulSet as unknown as Model,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler as unknown as Model,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget as unknown as Model,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy as unknown as Model,
};

const all = loadAll();
const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const tarantoolCopy = 'tarantool/init.lua';

test('every object validates against the Kubernetes API schema of its kind', () => {
  assert.ok(all.length > 0);
  for (const { file, object } of all) {
    const Model = schemas[`${object.apiVersion}/${object.kind}`];
    assert.ok(Model, `${file}: ${object.apiVersion} ${object.kind} is not a kind these manifests should use`);
    assert.doesNotThrow(() => new Model(object).validate(), `${file}: ${object.kind}/${object.metadata.name}`);
  }
});

test('the kustomization and the components list every file in manifests/ and nothing else', () => {
  const roots = listManifestFiles()
    .filter((file) => basename(file) === 'kustomization.yaml')
    .map((file) => dirname(file));
  assert.deepEqual(roots.sort(), ['.', 'components/tls']);
  const listed = roots.flatMap((root) => kustomizationFiles(root)).sort();
  assert.equal(new Set(listed).size, listed.length, 'a file is listed twice');
  // The Tarantool copy is checked (and its absence reported) by tarantool-config.test.ts.
  const present = [...new Set([...listManifestFiles(), tarantoolCopy])].sort();
  assert.deepEqual(listed, present);
  for (const file of listed.filter((path) => path !== tarantoolCopy)) {
    assert.ok(existsSync(join(manifestsDir, file)), `${file} is listed but missing`);
  }
});

test('names are unique per kind and everything lives in the namespace minitoolstream', () => {
  const seen = new Set<string>();
  for (const { file, object } of all) {
    const key = `${object.kind}/${object.metadata.name}`;
    assert.ok(!seen.has(key), `${file}: ${key} is defined twice`);
    seen.add(key);
    if (object.kind === 'Namespace') assert.equal(object.metadata.name, namespace);
    else assert.equal(object.metadata.namespace, namespace, `${file}: ${key}`);
  }
});

test('every object and pod template carries the recommended labels', () => {
  const required = ['app.kubernetes.io/name', 'app.kubernetes.io/component', 'app.kubernetes.io/version'];
  const templates = all
    .filter(({ object }) => object.kind === 'Deployment' || object.kind === 'StatefulSet')
    .map(({ file, object }) => ({
      file,
      object: { ...object, metadata: { name: `${object.metadata.name} pods`, ...podTemplate(object).metadata } },
    }));
  for (const { file, object } of [...all, ...templates]) {
    const labels = object.metadata.labels ?? {};
    assert.equal(labels['app.kubernetes.io/part-of'], 'minitoolstream', `${file}: ${object.kind}/${object.metadata.name}`);
    for (const label of required) assert.ok(labels[label], `${file}: ${object.kind}/${object.metadata.name} lacks ${label}`);
  }
});

test('version labels follow the package version and the pinned store images', () => {
  for (const { object } of all) {
    if (object.kind !== 'Deployment' && object.kind !== 'StatefulSet') continue;
    const { labels = {} } = podTemplate(object).metadata ?? {};
    const main = podTemplate(object).spec!.containers[0]!;
    const expected = object.kind === 'Deployment' ? packageVersion : main.image!.split(':')[1]!.replace(/-ubuntu.*$/, '');
    assert.equal(labels['app.kubernetes.io/version'], expected, `${object.metadata.name}`);
  }
});

test('every image is pinned by a tag, never latest, except our locally built ones', () => {
  for (const { object } of all) {
    if (object.kind !== 'Deployment' && object.kind !== 'StatefulSet') continue;
    const spec = podTemplate(object).spec!;
    for (const { name, image, imagePullPolicy } of [...(spec.initContainers ?? []), ...spec.containers]) {
      const [repository, tag] = image!.split(':');
      assert.ok(tag, `${object.metadata.name}/${name}: ${image} has no tag`);
      // Our images are imported into k3s, not pulled: IfNotPresent keeps `latest` from being pulled.
      assert.equal(imagePullPolicy, 'IfNotPresent', `${object.metadata.name}/${name}`);
      if (!repository!.startsWith('minitoolstream-')) assert.notEqual(tag, 'latest', `${object.metadata.name}/${name}`);
    }
  }
  assert.match(container(find(all, 'StatefulSet', 'tarantool'), 'tarantool').image!, /^tarantool\/tarantool:2\.11\.\d+/);
});

test('every container runs unprivileged with a read-only root and no capabilities', () => {
  for (const { object } of all) {
    if (object.kind !== 'Deployment' && object.kind !== 'StatefulSet') continue;
    const spec = podTemplate(object).spec!;
    assert.equal(spec.securityContext?.runAsNonRoot, true, object.metadata.name);
    assert.equal(spec.automountServiceAccountToken, false, object.metadata.name);
    for (const { name, securityContext } of [...(spec.initContainers ?? []), ...spec.containers]) {
      assert.equal(securityContext?.readOnlyRootFilesystem, true, `${object.metadata.name}/${name}`);
      assert.equal(securityContext?.allowPrivilegeEscalation, false, `${object.metadata.name}/${name}`);
      assert.deepEqual(securityContext?.capabilities?.drop, ['ALL'], `${object.metadata.name}/${name}`);
    }
  }
});

test('the example Secret holds only obvious placeholders for the three keys', () => {
  const secret = find(all, 'Secret', 'minitoolstream-secret') as KubeObject & { stringData: Record<string, string> };
  assert.deepEqual(Object.keys(secret.stringData).sort(), ['MINIO_ACCESS_KEY_ID', 'MINIO_SECRET_ACCESS_KEY', 'TARANTOOL_PASSWORD']);
  for (const value of Object.values(secret.stringData)) assert.match(value, /^CHANGE-ME-/);
});

test('the example JWT Secret holds only a placeholder for the public key', () => {
  const secret = find(all, 'Secret', 'minitoolstream-jwt') as KubeObject & { stringData: Record<string, string> };
  assert.deepEqual(Object.keys(secret.stringData), ['jwt.pub']);
  assert.match(secret.stringData['jwt.pub']!, /^CHANGE-ME-/);
  assert.doesNotMatch(secret.stringData['jwt.pub']!, /-----BEGIN/, 'a real key does not belong in the repository');
});

test('the TLS component yields objects that still validate', () => {
  for (const { file, object } of withComponent(all, 'components/tls')) {
    const Model = schemas[`${object.apiVersion}/${object.kind}`]!;
    assert.doesNotThrow(() => new Model(object).validate(), `${file}: ${object.kind}/${object.metadata.name}`);
  }
});

test('network policies admit only ingress and egress pods to the stores, on the store port', () => {
  const policies = all
    .filter(({ object }) => object.kind === 'NetworkPolicy')
    .map(({ object }) => object as networking.INetworkPolicy & KubeObject);
  for (const [app, port] of [
    ['tarantool', 3301],
    ['minio', 9000],
  ] as const) {
    const policy = policies.find((candidate) => candidate.spec?.podSelector.matchLabels?.app === app);
    assert.ok(policy, `no NetworkPolicy selects app=${app}`);
    assert.deepEqual(policy.spec!.policyTypes, ['Ingress']);
    const rules = policy.spec!.ingress!;
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0]!.ports, [{ protocol: 'TCP', port }]);
    const peers = rules[0]!.from!;
    assert.equal(peers.length, 1);
    assert.equal(peers[0]!.namespaceSelector, undefined, 'peers from other namespaces are not allowed');
    assert.deepEqual(peers[0]!.podSelector?.matchExpressions, [
      { key: 'app', operator: 'In', values: ['minitoolstream-ingress', 'minitoolstream-egress'] },
    ]);
  }
});
