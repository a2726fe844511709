import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { eventually, payload } from '../testing/conformance-harness.js';
import { waitForReadyz } from '../testing/service-process.js';
import { openTarantoolBackend, type OpenedTarantoolBackend } from '../testing/tarantool-backend.js';
import type { TestBackend } from '../testing/test-backend.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';

const subject = 'invoices.scanned';
const inlineMaxBytes = 1024;

test('with the object store down, large publishes are UNAVAILABLE, inline ones go on, and nothing points at a missing object', async (t) => {
  let servers!: OpenedTarantoolBackend;
  const backend: TestBackend = { name: 'tarantool', open: async (bt) => (servers = await openTarantoolBackend(bt)) };
  const services = await startTestServices(t, {
    backend,
    env: { INLINE_MAX_BYTES: String(inlineMaxBytes) },
    store: { orphanGraceMs: 2000, sweepIntervalMs: 200 },
  });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  const published: Uint8Array[] = [];
  const publish = async (data: Uint8Array) => {
    const { sequence } = await ingress.publish({ subject, data });
    assert.equal(sequence, BigInt(published.length + 1));
    published.push(data);
  };
  await publish(payload(inlineMaxBytes * 4, 1));
  await publish(payload(16, 2));
  await egress.ackMessage({ subject, durableName: 'past-the-object', sequence: 1n });

  await servers.s3.stop();
  await Promise.all([waitForReadyz(services.ingress.url, 503, 10_000), waitForReadyz(services.egress.url, 503, 10_000)]);
  for (let attempt = 0; attempt < 3; attempt++) {
    await assert.rejects(
      ingress.publish({ subject, data: payload(inlineMaxBytes * 4, 3) }),
      (error) => ConnectError.from(error).code === Code.Unavailable,
    );
    await publish(payload(16, 4 + attempt));
  }
  const fetchSequences = async (durableName: string) => {
    const sequences = [];
    for await (const message of egress.fetch({ subject, durableName, batchSize: 10 })) sequences.push(message.sequence);
    return sequences;
  };
  // Inline payloads are still delivered; a batch that needs an object is UNAVAILABLE, not lost.
  assert.deepEqual(await fetchSequences('past-the-object'), [2n, 3n, 4n, 5n]);
  await assert.rejects(fetchSequences('from-the-start'), (error) => ConnectError.from(error).code === Code.Unavailable);

  await servers.s3.start();
  await waitForReadyz(services.ingress.url, 200, 10_000);
  await publish(payload(inlineMaxBytes * 4, 9));
  const fetched = [];
  for await (const message of egress.fetch({ subject, durableName: 'auditor', batchSize: 100 })) fetched.push(message);
  assert.deepEqual(
    fetched.map((message) => message.sequence),
    published.map((_, index) => BigInt(index + 1)),
  );
  fetched.forEach((message, index) => assertSameBytes(message.data, published[index]!, `sequence ${message.sequence}`));
  // The failed uploads' pending entries could not be discarded while the store was down; the sweep removes them.
  await eventually(async () => (await servers.metadata.listStalePendingUploads(Date.now() + 1, 10)).length === 0, 5000);
});
