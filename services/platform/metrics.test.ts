import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { ingressClient, startTestServices } from '../testing/test-services.js';
import { RPC_HANDLED, RPC_SECONDS } from './metrics.js';

/** GET over cleartext HTTP/2 with prior knowledge, as a gRPC client's connection would carry it. */
async function h2cGet(baseUrl: string, path: string): Promise<{ status: number; body: string }> {
  const session = http2.connect(baseUrl);
  try {
    return await new Promise((resolve, reject) => {
      session.once('error', reject);
      const stream = session.request({ ':method': 'GET', ':path': path });
      let status = 0;
      let body = '';
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
    });
  } finally {
    session.close();
  }
}

test('/metrics over HTTP/1.1 is Prometheus text with per-method RPC latency and codes', async (t) => {
  const services = await startTestServices(t);
  await ingressClient(services).publish({ subject: 'metrics.test', data: new Uint8Array(5) });
  await assert.rejects(ingressClient(services, 'connect').publish({ subject: '' }));
  const response = await fetch(`${services.ingress.url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await response.text();
  const service = 'service="minitoolstream.IngressService",method="Publish"';
  assert.match(text, new RegExp(`^${RPC_SECONDS}_bucket\\{le="\\+Inf",${service}\\} 2$`, 'm'));
  assert.match(text, new RegExp(`^${RPC_SECONDS}_count\\{${service}\\} 2$`, 'm'));
  assert.match(text, new RegExp(`^${RPC_HANDLED}\\{${service},code="OK"\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^${RPC_HANDLED}\\{${service},code="INVALID_ARGUMENT"\\} 1$`, 'm'));
  assert.match(text, /^minitoolstream_published_bytes_total 5$/m);
  assert.match(text, /^minitoolstream_ready\{service="ingress"\} 1$/m);
  assert.match(text, /^process_cpu_seconds_total /m);
  assert.match(text, /^minitoolstream_storage_seconds_count\{operation="publish",backend="embedded"\} 1$/m);
});

test('/healthz, /readyz and /metrics answer over HTTP/1.1 and h2c on the gRPC port', async (t) => {
  const services = await startTestServices(t);
  await services.egress.readiness.refresh();
  for (const path of ['/healthz', '/readyz']) {
    const h1 = await fetch(`${services.egress.url}${path}`);
    assert.equal(h1.status, 200, path);
    const h2 = await h2cGet(services.egress.url, path);
    assert.equal(h2.status, 200, path);
    assert.deepEqual(JSON.parse(h2.body), await h1.json());
  }
  const ready = JSON.parse((await h2cGet(services.egress.url, '/readyz')).body);
  assert.equal(ready.ready, true);
  assert.deepEqual(
    ready.dependencies.map((d: { name: string }) => d.name),
    ['sqlite', 'folder'],
  );
  const metrics = await h2cGet(services.egress.url, '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^# TYPE grpc_server_handling_seconds histogram$/m);
});
