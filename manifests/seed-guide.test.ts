/**
 * The deployment guide the project started from, command by command: each row is a command
 * (or fact) of the guide and what the manifests must contain for it to work as written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { container, containerEnv, find, loadAll, namespace, podTemplate, workloadsSelectedBy, type KubeObject } from './manifest-set.js';

const all = loadAll();
const services = [
  { name: 'ingress', port: 50051 },
  { name: 'egress', port: 50052 },
] as const;

const deployment = (service: string) => find(all, 'Deployment', `minitoolstream-${service}`) as KubeObject & IDeployment;

/** `kubectl get pods -n minitoolstream -l key=value` finds the pods of exactly one workload. */
function podsWithLabel(selector: Record<string, string>): KubeObject {
  const workloads = workloadsSelectedBy(all, selector);
  assert.equal(workloads.length, 1, `pods labelled ${JSON.stringify(selector)}`);
  assert.equal(workloads[0]!.metadata.namespace, namespace);
  return workloads[0]!;
}

/** `kubectl port-forward svc/NAME PORT:PORT` reaches a container port through the Service. */
function forwardsTo(serviceName: string, port: number): void {
  const service = find(all, 'Service', serviceName) as KubeObject & IService;
  const servicePort = service.spec!.ports!.find((candidate) => candidate.port === port);
  assert.ok(servicePort, `${serviceName} has no port ${port}`);
  const [workload] = workloadsSelectedBy(all, service.spec!.selector!);
  assert.ok(workload, `${serviceName} selects no pods`);
  const ports = podTemplate(workload).spec!.containers.flatMap((candidate) => candidate.ports ?? []);
  const target = ports.find((candidate) => candidate.name === servicePort.targetPort || candidate.containerPort === servicePort.targetPort);
  assert.equal(target?.containerPort, port, `${serviceName}:${port} targets container port ${port}`);
}

const rows: Array<[command: string, check: () => void]> = [
  ['kubectl get pods -n minitoolstream -l app=tarantool', () => podsWithLabel({ app: 'tarantool' })],
  ['kubectl get pods -n minitoolstream -l app=minio', () => podsWithLabel({ app: 'minio' })],
  ['Tarantool: Message metadata storage (port 3301)', () => forwardsTo('tarantool-service', 3301)],
  ['MinIO: Large message object storage (port 9000)', () => forwardsTo('minio-service', 9000)],
  [
    'kubectl logs -f -n minitoolstream -l app.kubernetes.io/part-of=minitoolstream',
    () => {
      const workloads = workloadsSelectedBy(all, { 'app.kubernetes.io/part-of': 'minitoolstream' }).map((w) => w.metadata.name);
      assert.deepEqual(workloads.sort(), ['minio', 'minitoolstream-egress', 'minitoolstream-ingress', 'tarantool']);
    },
  ],
  [
    'kubectl get hpa -n minitoolstream',
    () => {
      const names = all.filter(({ object }) => object.kind === 'HorizontalPodAutoscaler').map(({ object }) => object.metadata.name);
      assert.deepEqual(names.sort(), ['minitoolstream-egress-hpa', 'minitoolstream-ingress-hpa']);
    },
  ],
  ...services.flatMap(({ name, port }): Array<[string, () => void]> => [
    [`kubectl logs -f -n minitoolstream -l app=minitoolstream-${name}`, () => podsWithLabel({ app: `minitoolstream-${name}` })],
    [`minitoolstream-${name}-xxx 1/1 Running (3 replicas)`, () => assert.equal(deployment(name).spec!.replicas, 3)],
    [
      `kubectl port-forward -n minitoolstream svc/minitoolstream-${name}-service ${port}:${port}`,
      () => forwardsTo(`minitoolstream-${name}-service`, port),
    ],
    [
      `nslookup minitoolstream-${name}-service`,
      () => assert.equal(find(all, 'Service', `minitoolstream-${name}-service`).metadata.namespace, namespace),
    ],
    [
      `kubectl describe hpa minitoolstream-${name}-hpa -n minitoolstream`,
      () => {
        const hpa = find(all, 'HorizontalPodAutoscaler', `minitoolstream-${name}-hpa`) as KubeObject & IHorizontalPodAutoscaler;
        assert.deepEqual(hpa.spec!.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: `minitoolstream-${name}` });
        assert.equal(hpa.spec!.minReplicas, 3);
        assert.equal(hpa.spec!.maxReplicas, 10);
        const targets = Object.fromEntries(hpa.spec!.metrics!.map((metric) => [metric.resource!.name, metric.resource!.target]));
        assert.deepEqual(targets, {
          cpu: { type: 'Utilization', averageUtilization: 70 },
          memory: { type: 'Utilization', averageUtilization: 80 },
        });
      },
    ],
    [`kubectl scale deployment minitoolstream-${name} -n minitoolstream --replicas=5`, () => assert.ok(deployment(name))],
    [
      `kubectl set image deployment/minitoolstream-${name} ${name}=minitoolstream-${name}:v1.1.0 -n minitoolstream`,
      () => {
        assert.match(container(deployment(name), name).image!, new RegExp(`^minitoolstream-${name}:`));
      },
    ],
    [
      `kubectl rollout undo deployment/minitoolstream-${name} -n minitoolstream --to-revision=2`,
      () => {
        assert.ok((deployment(name).spec!.revisionHistoryLimit ?? 10) >= 2);
      },
    ],
    [
      `kubectl logs <pod-name> -n minitoolstream -c wait-for-tarantool / -c wait-for-minio (${name})`,
      () => {
        const init = podTemplate(deployment(name)).spec!.initContainers!.map((candidate) => candidate.name);
        assert.deepEqual(init, ['wait-for-tarantool', 'wait-for-minio']);
      },
    ],
    [
      `Rolling Updates: Zero-downtime deployments (${name})`,
      () => {
        assert.deepEqual(deployment(name).spec!.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      },
    ],
    [
      `Pod Disruption Budget: Min 2 pods always available (${name})`,
      () => {
        const budget = all
          .map(({ object }) => object as KubeObject & IPodDisruptionBudget)
          .find((object) => object.kind === 'PodDisruptionBudget' && object.spec?.selector?.matchLabels?.app === `minitoolstream-${name}`);
        assert.equal(budget?.spec!.minAvailable, 2);
      },
    ],
    [
      `Pod Anti-Affinity: Pods distributed across nodes (${name})`,
      () => {
        const [term] = podTemplate(deployment(name)).spec!.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution!;
        assert.equal(term!.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
        assert.deepEqual(term!.podAffinityTerm.labelSelector?.matchLabels, { app: `minitoolstream-${name}` });
      },
    ],
    [
      `Memory: 256Mi (request) / 512Mi (limit), CPU: 250m / 500m (${name})`,
      () => {
        assert.deepEqual(container(deployment(name), name).resources, {
          requests: { cpu: '250m', memory: '256Mi' },
          limits: { cpu: '500m', memory: '512Mi' },
        });
      },
    ],
    [
      `prometheus.io/scrape "true", prometheus.io/port "${port}", prometheus.io/path /metrics`,
      () => {
        assert.deepEqual(podTemplate(deployment(name)).metadata!.annotations, {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(port),
          'prometheus.io/path': '/metrics',
        });
      },
    ],
    [
      `Environment Variables: both services share the guide's configuration (${name})`,
      () => {
        const env = containerEnv(all, container(deployment(name), name));
        for (const [key, value] of Object.entries({
          TARANTOOL_ADDRESS: 'tarantool-service.minitoolstream.svc.cluster.local:3301',
          TARANTOOL_USER: 'minitoolstream_connector',
          MINIO_ENDPOINT: 'minio-service.minitoolstream.svc.cluster.local:9000',
          MINIO_BUCKET_NAME: 'minitoolstream',
          LOG_LEVEL: 'info',
          LOG_FORMAT: 'json',
        }))
          assert.equal(env.get(key), value, key);
        for (const key of ['TARANTOOL_PASSWORD', 'MINIO_ACCESS_KEY_ID', 'MINIO_SECRET_ACCESS_KEY']) {
          const fromSecret = container(deployment(name), name).envFrom?.some((from) => from.secretRef?.name === 'minitoolstream-secret');
          assert.ok(fromSecret && env.has(key), `${key} <from-secret>`);
        }
      },
    ],
  ]),
];

for (const [command, check] of rows) test(command, check);
