import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { overrideObjects, payload } from '../testing/conformance-harness.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';
import { wrapBackend } from '../testing/wrapped-backend.js';

// The original system gave a slow upload its sequence first; a later small
// message then committed and was acked, and the big one was never delivered.
test('a slow large upload never ends up behind an acked position', async (t) => {
  let uploadStarted!: () => void;
  const started = new Promise<void>((resolve) => (uploadStarted = resolve));
  let finishUpload!: () => void;
  const finished = new Promise<void>((resolve) => (finishUpload = resolve));
  const backend = wrapBackend(tarantoolBackend, {
    objects: (inner) =>
      overrideObjects(inner, {
        async put(key, data, contentType, signal) {
          uploadStarted();
          await finished;
          await inner.put(key, data, contentType, signal);
        },
      }),
  });
  const services = await startTestServices(t, { backend, env: { INLINE_MAX_BYTES: '1024' } });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  const subject = 'uploads.slow';
  const consumer = { subject, durableName: 'worker' };
  const fetchAll = async () => {
    const messages = [];
    for await (const message of egress.fetch({ ...consumer, batchSize: 10 })) messages.push(message);
    return messages;
  };

  const big = payload(200_000, 1);
  const bigPublish = ingress.publish({ subject, data: big });
  await started;
  const small = await ingress.publish({ subject, data: payload(10, 2) });
  assert.equal(small.sequence, 1n, 'the small message commits first and takes the first number');
  assert.deepEqual(
    (await fetchAll()).map((message) => message.sequence),
    [1n],
  );
  await egress.ackMessage({ ...consumer, sequence: 1n });

  finishUpload();
  const bigResult = await bigPublish;
  assert.equal(bigResult.sequence, 2n, 'the big message is numbered above the ack floor');
  const delivered = await fetchAll();
  assert.deepEqual(
    delivered.map((message) => message.sequence),
    [2n],
  );
  assertSameBytes(delivered[0]!.data, big, 'the big payload');
});
