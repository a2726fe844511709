import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError, createClient, createConnectRouter, createHandlerContext } from '@connectrpc/connect';
import { pino } from 'pino';
import { Health, HealthCheckResponse_ServingStatus } from '../../../gen/grpc/health/v1/health_pb.js';
import { IngressService } from '../../../gen/minitoolstream/ingress_pb.js';
import { egressService } from '../../egress/connect.js';
import { ingressService } from '../../ingress/connect.js';
import { transportFor, startTestServices } from '../../testing/test-services.js';
import { createTestKeys } from '../../testing/test-tokens.js';
import { allRoutes } from '../app.js';
import { loadConfig } from '../config.js';
import { createMetrics } from '../metrics.js';
import { toConnectError } from '../rpc-errors.js';
import { openAuthLayer } from './auth-layer.js';
import { accessRule } from './permission-table.js';

test('every registered RPC has an access rule, and only probes and reflection are open', async (t) => {
  const services = await startTestServices(t);
  const open: string[] = [];
  for (const [definition, running] of [
    [ingressService, services.ingress],
    [egressService, services.egress],
  ] as const) {
    const router = createConnectRouter();
    const deps = {
      config: loadConfig(definition.name, { STORAGE: 'embedded' }),
      logger: services.logger,
      metrics: createMetrics(),
      store: services.store,
      readiness: running.readiness,
    };
    // The same composition buildApp serves: the service's routes, health and reflection.
    allRoutes({ services: definition.services, routes: definition.routes(deps), readiness: running.readiness })(router);
    assert.ok(router.handlers.length >= 5);
    for (const { service, method } of router.handlers) {
      const name = `${service.typeName}/${method.name}`;
      const rule = accessRule(service.typeName, method.name);
      assert.ok(rule, `${name} has no access rule`);
      if (rule.open) open.push(name);
    }
  }
  assert.deepEqual([...new Set(open)].sort(), [
    'grpc.health.v1.Health/Check',
    'grpc.health.v1.Health/Watch',
    'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    'grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
  ]);
});

test('a method missing from the table is refused before its body is read', async (t) => {
  const keys = createTestKeys(t);
  const config = loadConfig('ingress', { STORAGE: 'embedded', AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile });
  const auth = await openAuthLayer(config.auth, { logger: pino({ level: 'silent' }), metrics: createMetrics() });
  t.after(() => auth?.close());
  const unknown = { ...IngressService, typeName: 'minitoolstream.NewService' };
  const context = createHandlerContext({
    service: unknown,
    method: { ...IngressService.method.publish, parent: unknown },
    protocolName: 'grpc',
    requestMethod: 'POST',
    url: '/minitoolstream.NewService/Publish',
    requestHeader: { authorization: `Bearer ${await keys.token()}` },
  });
  const refusal = await auth!.requestGate(context).then(
    () => undefined,
    (error: unknown) => toConnectError(error, pino({ level: 'silent' })),
  );
  assert.ok(refusal instanceof ConnectError);
  assert.equal(refusal.code, Code.PermissionDenied);
});

test('health answers without a token in required mode', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  const health = createClient(Health, transportFor(services.ingress.url, 'grpc'));
  // Answered at all (serving or still starting) means no token was asked for.
  const { status } = await health.check({ service: '' });
  assert.ok([HealthCheckResponse_ServingStatus.SERVING, HealthCheckResponse_ServingStatus.NOT_SERVING].includes(status));
});

test('the inspection RPCs and Browse need fetch, listings filter by subject, and a consumer reset, a purge, retention policies, consumer configuration or a redrive need admin', () => {
  for (const service of ['minitoolstream.EgressService', 'EgressService']) {
    assert.deepEqual(accessRule(service, 'ListSubjects'), { open: false, anyOf: ['fetch'], listing: true });
    assert.deepEqual(accessRule(service, 'ListConsumers'), { open: false, anyOf: ['fetch'], listing: true });
    assert.deepEqual(accessRule(service, 'GetSubjectInfo'), { open: false, anyOf: ['fetch'] });
    // With no subject it names a configured consumer, shown when the token may fetch one of its subjects.
    assert.deepEqual(accessRule(service, 'GetConsumerInfo'), { open: false, anyOf: ['fetch'], listing: true });
    assert.deepEqual(accessRule(service, 'ResetConsumer'), { open: false, anyOf: ['admin'] });
    for (const method of ['Purge', 'SetRetentionPolicy', 'ListRetentionPolicies', 'DeleteRetentionPolicy']) {
      assert.deepEqual(accessRule(service, method), { open: false, anyOf: ['admin'] });
    }
    assert.deepEqual(accessRule(service, 'Browse'), { open: false, anyOf: ['fetch'] });
    assert.deepEqual(accessRule(service, 'ConsumerLagHistory'), { open: false, anyOf: ['fetch'], listing: true });
    for (const method of ['CreateConsumer', 'UpdateConsumer', 'DeleteConsumer', 'Redrive']) {
      assert.deepEqual(accessRule(service, method), { open: false, anyOf: ['admin'], listing: true }, method);
    }
  }
});
