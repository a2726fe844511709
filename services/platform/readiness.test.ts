import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../../gen/grpc/health/v1/health_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { startS3Server } from '../testing/s3-server.js';
import { spawnService } from '../testing/service-process.js';
import { freePort } from '../testing/free-port.js';
import { startTarantool } from '../testing/tarantool-server.js';
import { startTestServices, transportFor } from '../testing/test-services.js';
import type { ReadinessReport } from './readiness.js';

async function readyz(url: string): Promise<{ status: number; report: ReadinessReport }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, report: (await response.json()) as ReadinessReport };
}

/** Polls /readyz until `done` holds; the process checks its dependencies on its own timer. */
async function waitForReadyz(url: string, done: (report: ReadinessReport) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await readyz(url);
    if (done(answer.report)) return answer;
    if (Date.now() > deadline) assert.fail(`readiness still ${JSON.stringify(answer.report)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('with Tarantool and MinIO down the service serves, is not ready, answers UNAVAILABLE, and recovers by itself', async (t) => {
  const [tarantoolPort, s3Port] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const password = 'readiness-test-password';
  const service = await spawnService(t, 'ingress', {
    STORAGE: 'tarantool',
    TARANTOOL_ADDRESS: `127.0.0.1:${tarantoolPort}`,
    TARANTOOL_PASSWORD: password,
    MINIO_ENDPOINT: `127.0.0.1:${s3Port}`,
    MINIO_ACCESS_KEY_ID: 'S3RVER',
    MINIO_SECRET_ACCESS_KEY: 'S3RVER',
  });
  const transport = transportFor(service.url);
  const health = createClient(Health, transport);
  const ingress = createClient(IngressService, transport);

  assert.deepEqual((await fetch(`${service.url}/healthz`)).status, 200);
  const down = await waitForReadyz(service.url, (report) => report.state !== 'starting', 10_000);
  assert.equal(down.status, 503);
  assert.equal(down.report.state, 'unavailable');
  assert.deepEqual(
    down.report.dependencies.map((d) => [d.name, d.ok]),
    [
      ['tarantool', false],
      ['minio', false],
    ],
  );
  assert.equal((await health.check({ service: '' })).status, Status.NOT_SERVING);
  assert.equal((await health.check({ service: 'minitoolstream.IngressService' })).status, Status.NOT_SERVING);
  await assert.rejects(
    ingress.publish({ subject: 'while.down' }),
    (error: unknown) => error instanceof ConnectError && error.code === Code.Unavailable,
  );

  const watching = new AbortController();
  t.after(() => watching.abort());
  const watch = health.watch({ service: '' }, { signal: watching.signal })[Symbol.asyncIterator]();
  assert.equal((await watch.next()).value?.status, Status.NOT_SERVING);

  await Promise.all([startTarantool(t, { port: tarantoolPort, password }), startS3Server(t, { port: s3Port })]);
  // The process reconnects with backoff (at most a few seconds) and re-checks every 2 s.
  const up = await waitForReadyz(service.url, (report) => report.ready, 20_000);
  assert.equal(up.status, 200);
  assert.deepEqual(
    up.report.dependencies.map((d) => [d.name, d.ok]),
    [
      ['tarantool', true],
      ['minio', true],
    ],
  );
  assert.equal((await watch.next()).value?.status, Status.SERVING);
  assert.equal((await health.check({ service: '' })).status, Status.SERVING);
  assert.equal((await ingress.publish({ subject: 'after.recovery' })).sequence, 1n);
  assert.equal((await ingress.publish({ subject: 'after.recovery', data: new Uint8Array(100_000) })).sequence, 2n);
  watching.abort();
});

test('health Check answers SERVING when ready and NOT_FOUND for an unknown service', async (t) => {
  const services = await startTestServices(t);
  await services.ingress.readiness.refresh();
  const health = createClient(Health, transportFor(services.ingress.url));
  assert.equal((await health.check({ service: 'IngressService' })).status, Status.SERVING);
  await assert.rejects(
    health.check({ service: 'no.such.Service' }),
    (error: unknown) => error instanceof ConnectError && error.code === Code.NotFound,
  );
});
