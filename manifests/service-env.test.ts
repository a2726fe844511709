/**
 * The Deployments and services/platform/config.ts agree: every variable a Deployment sets is
 * one the config reads (found by running loadConfig over a recording Proxy, so variables added
 * to config.ts later need no change here), and the probes hit what the chassis serves. The same
 * holds with the TLS component applied. Files the config names (JWT key, TLS pair) come from
 * read-only folder mounts of Secrets that hold them, so key rotation and renewal reach the pods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { loadConfig, type ServiceName } from '../services/platform/config.js';
import { container, containerEnv, find, loadAll, podTemplate, withComponent, type KubeObject, type Loaded } from './manifest-set.js';

const all = loadAll();
const withTls = withComponent(all, 'components/tls');
const services = [
  { name: 'ingress', port: 50051 },
  { name: 'egress', port: 50052 },
] as const;

/** Runs loadConfig with `values` and returns the config and every variable name it looked up. */
function readConfig(service: ServiceName, values: Map<string, string>) {
  const read = new Set<string>();
  const env = new Proxy<Record<string, string | undefined>>(
    {},
    {
      get(_target, key) {
        if (typeof key !== 'string') return undefined;
        read.add(key);
        return values.get(key);
      },
    },
  );
  return { config: loadConfig(service, env), read };
}

/** Asserts that `path` in `target` is key `basename(path)` of a Secret mounted read-only as a folder. */
function assertSecretFile(objects: Loaded[], workload: KubeObject, target: IContainer, path: string, secretName: string): void {
  const mount = target.volumeMounts?.find((candidate) => candidate.mountPath === dirname(path));
  assert.ok(mount, `${target.name}: nothing is mounted at ${dirname(path)}`);
  assert.equal(mount.readOnly, true, `${mount.name} is read-only`);
  // A subPath mount is a copy made at pod start: a rotated key or renewed certificate would never arrive.
  assert.equal(mount.subPath, undefined, `${mount.name} is a folder mount, not a subPath`);
  const volume = podTemplate(workload).spec!.volumes!.find((candidate) => candidate.name === mount.name);
  assert.equal(volume?.secret?.secretName, secretName, `${mount.name} mounts the Secret ${secretName}`);
  assert.equal(volume.secret.items, undefined, 'every key of the Secret is mounted');
  const secret = objects.find(({ object }) => object.kind === 'Secret' && object.metadata.name === secretName)?.object as
    (KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> }) | undefined;
  // The TLS Secret is made outside the manifests (cert-manager or kubectl create secret tls).
  if (secret !== undefined) assert.ok(basename(path) in { ...secret.data, ...secret.stringData }, `${secretName} has ${basename(path)}`);
}

for (const { name, port } of services) {
  const main = (objects = all) => container(find(objects, 'Deployment', `minitoolstream-${name}`), name);

  for (const [variant, objects] of [
    ['', all],
    [' (components/tls)', withTls],
  ] as const) {
    test(`${name}${variant}: every variable the Deployment sets is read by the config, and parses`, () => {
      const env = containerEnv(objects, main(objects));
      const { config, read } = readConfig(name, env);
      const unread = [...env.keys()].filter((key) => !read.has(key));
      assert.deepEqual(unread, [], 'set in the manifests but never read by services/platform/config.ts');
      assert.equal(config.port, port);
      assert.deepEqual([config.tarantool.host, config.tarantool.port], ['tarantool-service.minitoolstream.svc.cluster.local', 3301]);
      assert.deepEqual([config.minio.host, config.minio.port], ['minio-service.minitoolstream.svc.cluster.local', 9000]);
      assert.equal(config.storage, 'tarantool');
    });

    test(`${name}${variant}: every RPC needs a JWT, verified with the key of the Secret minitoolstream-jwt`, () => {
      const { config } = readConfig(name, containerEnv(objects, main(objects)));
      assert.equal(config.auth.mode, 'required');
      assert.equal(config.auth.jwksUrl, undefined);
      assert.equal(config.auth.publicKeyFile, '/etc/minitoolstream/jwt/jwt.pub');
      assertSecretFile(
        objects,
        find(objects, 'Deployment', `minitoolstream-${name}`),
        main(objects),
        config.auth.publicKeyFile,
        'minitoolstream-jwt',
      );
    });
  }

  test(`${name}: TLS is off by default`, () => {
    assert.equal(readConfig(name, containerEnv(all, main())).config.tls, undefined);
  });

  test(`${name} (components/tls): serves TLS from the Secret minitoolstream-tls and probes over HTTPS`, () => {
    const target = main(withTls);
    const { config } = readConfig(name, containerEnv(withTls, target));
    assert.deepEqual(config.tls && [config.tls.certFile, config.tls.keyFile], [
      '/etc/minitoolstream/tls/tls.crt',
      '/etc/minitoolstream/tls/tls.key',
    ]);
    const workload = find(withTls, 'Deployment', `minitoolstream-${name}`);
    for (const file of [config.tls!.certFile, config.tls!.keyFile]) assertSecretFile(withTls, workload, target, file, 'minitoolstream-tls');
    const [containerPort] = target.ports!;
    for (const [kind, probe, path] of [
      ['startup', target.startupProbe, '/healthz'],
      ['liveness', target.livenessProbe, '/healthz'],
      ['readiness', target.readinessProbe, '/readyz'],
    ] as const) {
      // A kubelet gRPC probe cannot speak TLS, so none may be left.
      assert.equal(probe?.grpc, undefined, `${kind} probe`);
      assert.deepEqual(probe?.httpGet, { path, port: containerPort!.name, scheme: 'HTTPS' }, `${kind} probe`);
    }
    assert.equal(podTemplate(workload).metadata!.annotations!['prometheus.io/scheme'], 'https');
  });

  test(`${name}: the variables the cluster needs are set`, () => {
    const env = containerEnv(all, main());
    const required = [
      'SERVER_PORT',
      'TARANTOOL_ADDRESS',
      'TARANTOOL_USER',
      'TARANTOOL_PASSWORD',
      'MINIO_ENDPOINT',
      'MINIO_ACCESS_KEY_ID',
      'MINIO_SECRET_ACCESS_KEY',
      'MINIO_BUCKET_NAME',
      'LOG_LEVEL',
      'LOG_FORMAT',
    ];
    assert.deepEqual(
      required.filter((key) => !env.has(key)),
      [],
    );
  });

  test(`${name}: probes use /healthz and /readyz on ${port} and gRPC health at start`, () => {
    const target = main();
    const [containerPort] = target.ports!;
    assert.equal(containerPort!.containerPort, port);
    const portOf = (value: number | string | undefined) => (value === containerPort!.name ? containerPort!.containerPort : value);
    assert.equal(target.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(portOf(target.livenessProbe?.httpGet?.port), port);
    assert.equal(target.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(portOf(target.readinessProbe?.httpGet?.port), port);
    assert.equal(target.startupProbe?.grpc?.port, port);
  });

  test(`${name}: the grace period covers the preStop pause and the configured drain`, () => {
    const spec = podTemplate(find(all, 'Deployment', `minitoolstream-${name}`)).spec!;
    const { config } = readConfig(name, containerEnv(all, main()));
    const [command, seconds] = main().lifecycle!.preStop!.exec!.command!;
    assert.equal(command, 'sleep');
    const needed = Number(seconds) + config.shutdownTimeoutMs / 1000;
    assert.ok(spec.terminationGracePeriodSeconds! >= needed + 5, `${spec.terminationGracePeriodSeconds} s < ${needed} s + margin`);
  });
}

test('Tarantool gets the variables init.lua reads, with memtx memory below the container limit', () => {
  const tarantool = container(find(all, 'StatefulSet', 'tarantool'), 'tarantool');
  const env = containerEnv(all, tarantool);
  assert.deepEqual([...env.keys()].sort(), [
    'TARANTOOL_LISTEN',
    'TARANTOOL_MEMTX_MEMORY',
    'TARANTOOL_PASSWORD',
    'TARANTOOL_USER',
    'TARANTOOL_WAL_MODE',
    'TARANTOOL_WORK_DIR',
  ]);
  assert.equal(env.get('TARANTOOL_LISTEN'), '3301');
  // Acknowledged publishes survive a node crash; the cost is measured by scripts/bench-wal-mode.ts.
  assert.equal(env.get('TARANTOOL_WAL_MODE'), 'fsync');
  assert.equal(env.get('TARANTOOL_USER'), 'minitoolstream_connector');
  assert.deepEqual(tarantool.command, ['tarantool', '/opt/minitoolstream/init.lua']);
  const limit = tarantool.resources!.limits!.memory as string;
  const mebibytes = Number(/^(\d+)Mi$/.exec(limit)?.[1]);
  assert.ok(
    Number(env.get('TARANTOOL_MEMTX_MEMORY')) < mebibytes * 1024 * 1024,
    `memtx ${env.get('TARANTOOL_MEMTX_MEMORY')} vs limit ${limit}`,
  );
  const dataMount = tarantool.volumeMounts!.find((mount) => mount.mountPath === env.get('TARANTOOL_WORK_DIR'));
  assert.equal(dataMount?.name, 'data', 'the work dir is the persistent volume');
});

test('MinIO uses the shared credentials and probes its health endpoints', () => {
  const minio = container(find(all, 'StatefulSet', 'minio'), 'minio');
  const refs = Object.fromEntries((minio.env ?? []).map((variable) => [variable.name, variable.valueFrom?.secretKeyRef?.key]));
  assert.equal(refs.MINIO_ROOT_USER, 'MINIO_ACCESS_KEY_ID');
  assert.equal(refs.MINIO_ROOT_PASSWORD, 'MINIO_SECRET_ACCESS_KEY');
  assert.equal(minio.livenessProbe?.httpGet?.path, '/minio/health/live');
  assert.equal(minio.readinessProbe?.httpGet?.path, '/minio/health/ready');
  assert.ok(minio.volumeMounts!.some((mount) => mount.name === 'data' && mount.mountPath === '/data'));
});
