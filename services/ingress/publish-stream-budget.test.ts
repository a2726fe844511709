import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { createHandlerContext } from '@connectrpc/connect';
import { IngressService, PublishStreamRequestSchema, type PublishStreamRequest } from '../../gen/minitoolstream/ingress_pb.js';
import { loadConfig } from '../platform/config.js';
import { createMetrics } from '../platform/metrics.js';
import { collect, payload } from '../testing/conformance-harness.js';
import { startTestServices } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { publishStreamHandler } from './publish-stream.js';

const MiB = 1024 * 1024;

test('a PublishStream batch waiting for payload room is not overtaken by the smaller batch behind it', async (t) => {
  const env = { MAX_MESSAGE_BYTES: String(10 * MiB), PAYLOAD_IN_FLIGHT_MAX_BYTES: String(11 * MiB), PAYLOAD_ADMISSION_WAIT_MS: '60000' };
  const services = await startTestServices(t, { env });
  const publishStream = publishStreamHandler({
    config: loadConfig('ingress', { STORAGE: 'embedded', ...env }),
    logger: services.logger,
    metrics: createMetrics(),
    store: services.store,
    readiness: services.ingress.readiness,
    payloadBudget: services.payloadBudget,
  });
  // Another call holds most of the room: the large batch waits, the small one would fit.
  const held = await services.payloadBudget.acquire(10 * MiB);
  let bothRead!: () => void;
  const readPastBoth = new Promise<void>((resolve) => (bothRead = resolve));
  async function* requests(): AsyncGenerator<PublishStreamRequest> {
    yield create(PublishStreamRequestSchema, { id: 1n, messages: [{ subject: 'ordered', data: payload(2 * MiB) }] });
    yield create(PublishStreamRequestSchema, { id: 2n, messages: [{ subject: 'ordered', data: payload(10) }] });
    // Asked for a third request: the handler has started on both batches.
    bothRead();
  }
  const context = createHandlerContext({
    service: IngressService,
    method: IngressService.method.publishStream,
    protocolName: 'grpc',
    requestMethod: 'POST',
    url: '/minitoolstream.IngressService/PublishStream',
  });
  const answers = collect(publishStream(requests(), context));
  await within(readPastBoth, 10_000, 'the handler to read both batches');
  held();

  const answered = await within(answers, 30_000, 'the answers');
  assert.deepEqual(
    answered.map(({ id, errorCode, results }) => [id, errorCode, results?.map((result) => result.sequence)]),
    [
      [1n, '', [1n]],
      [2n, '', [2n]],
    ],
  );
});
