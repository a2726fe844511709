import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../../gen/grpc/health/v1/health_pb.js';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { spawnService } from '../testing/service-process.js';
import { transportFor } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { OPEN_STREAMS } from './metrics.js';

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('SIGTERM ends open streams cleanly, finishes in-flight calls and exits 0', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mts-shutdown-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const service = await spawnService(t, 'egress', { STORAGE: 'embedded', MTS_DATA_DIR: dataDir });
  const transport = transportFor(service.url);
  await until(async () => (await fetch(`${service.url}/readyz`)).status === 200, 'ready');

  const watched: Status[] = [];
  const watch = (async () => {
    for await (const answer of createClient(Health, transport).watch({ service: '' })) watched.push(answer.status);
  })();
  const notified: bigint[] = [];
  const subscribe = (async () => {
    for await (const note of createClient(EgressService, transport).subscribe({ subject: 'drain.test', durableName: 'd' }))
      notified.push(note.sequence);
  })();
  const subscribeOpen = new RegExp(`^${OPEN_STREAMS}\\{service="minitoolstream.EgressService",method="Subscribe"\\} 1$`, 'm');
  await until(async () => subscribeOpen.test(await (await fetch(`${service.url}/metrics`)).text()), 'Subscribe to be open');
  await until(async () => watched.length > 0, 'the first health status');

  // A unary Connect call whose body is still arriving when the signal comes.
  const request = http.request(`${service.url}/minitoolstream.EgressService/GetLastSequence`, {
    method: 'POST',
    // The server answers `100 Continue` once it has parsed the headers: the call is then in flight.
    headers: { 'content-type': 'application/json', expect: '100-continue' },
    agent: false,
  });
  const headersParsed = new Promise((resolve) => request.once('continue', resolve));
  const unary = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    });
    request.on('error', reject);
  });
  request.flushHeaders();
  await within(headersParsed, 10_000, 'the server to parse the headers');
  request.write('{"subject":');

  service.child.kill('SIGTERM');
  await service.waitForOutput('shutting down');
  // Streams end without an error on the client side.
  await Promise.all([subscribe, watch]);
  assert.deepEqual(notified, []);
  assert.equal(watched[0], Status.SERVING);
  request.end('"drain.test"}');
  const answer = await unary;
  assert.equal(answer.status, 200, answer.body);
  assert.deepEqual(JSON.parse(answer.body), {});

  const exit = await Promise.race([service.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 5000))]);
  assert.equal(exit, 0, service.stdout());
  assert.match(service.stdout(), /"msg":"stopped"/);
});
