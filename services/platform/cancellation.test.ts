import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capturedLogger } from '../testing/captured-logger.js';
import { eventually, overrideObjects, payload } from '../testing/conformance-harness.js';
import { embeddedBackend } from '../testing/embedded-backend.js';
import { metricValue } from '../testing/metric-value.js';
import { egressClient, ingressClient, startTestServices, type Protocol } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { wrapBackend } from '../testing/wrapped-backend.js';
import { OPEN_STREAMS, RPC_HANDLED } from './metrics.js';

// Object reads never finish until their call is cancelled: a Fetch that has
// sent its inline first message is still running when the client goes.
const stalledObjects = wrapBackend(embeddedBackend, {
  objects: (inner) =>
    overrideObjects(inner, {
      get: (_key, signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true })),
    }),
});

test('a call the client cancels is CANCELLED in the metrics and not logged as a failure', async (t) => {
  const { logger, lines } = capturedLogger('info');
  const services = await startTestServices(t, { logger, backend: stalledObjects });
  const subject = 'cancel.me';
  await ingressClient(services).publish({ subject, data: payload(4) });
  await ingressClient(services).publish({ subject, data: payload(100 * 1024) });
  const handled = (method: string, code: string) =>
    metricValue(services.egress.url, RPC_HANDLED, { service: 'minitoolstream.EgressService', method, code });

  for (const [index, protocol] of (['grpc', 'grpcweb', 'connect'] as Protocol[]).entries()) {
    const egress = egressClient(services, protocol);
    const fetching = new AbortController();
    const fetched = egress
      .fetch({ subject, durableName: `f-${protocol}`, batchSize: 2 }, { signal: fetching.signal })
      [Symbol.asyncIterator]();
    assert.equal((await within(fetched.next(), 30_000, 'the first fetched message')).value?.sequence, 1n);
    fetching.abort();
    await eventually(async () => (await handled('Fetch', 'CANCELLED')) === index + 1, 10_000);

    const subscribing = new AbortController();
    const notes = egress.subscribe({ subject, durableName: `s-${protocol}` }, { signal: subscribing.signal })[Symbol.asyncIterator]();
    assert.equal((await within(notes.next(), 30_000, 'the first notification')).done, false);
    subscribing.abort();
    await eventually(async () => (await handled('Subscribe', 'CANCELLED')) === index + 1, 10_000);
  }
  for (const code of ['INTERNAL', 'UNKNOWN', 'OK']) {
    assert.ok(Number.isNaN(await handled('Fetch', code)), `no Fetch counted ${code}`);
    assert.ok(Number.isNaN(await handled('Subscribe', code)), `no Subscribe counted ${code}`);
  }
  const failures = lines.filter((line) => /"level":(40|50)/.test(line));
  assert.deepEqual(failures, [], 'no warning or error logged');
});

test('a Fetch blocked on a client that stopped reading ends when the client cancels', async (t) => {
  const services = await startTestServices(t);
  const subject = 'cancel.blocked';
  // 16 MiB, one Fetch's worth: more than the client reads before it cancels.
  for (let index = 0; index < 4; index++) await ingressClient(services).publish({ subject, data: payload(4 * 1024 * 1024, index) });
  const openFetches = () => metricValue(services.egress.url, OPEN_STREAMS, { service: 'minitoolstream.EgressService', method: 'Fetch' });
  for (const protocol of ['grpc', 'grpcweb', 'connect'] as Protocol[]) {
    const fetching = new AbortController();
    const fetched = egressClient(services, protocol)
      .fetch({ subject, durableName: `blocked-${protocol}`, batchSize: 4 }, { signal: fetching.signal })
      [Symbol.asyncIterator]();
    assert.equal((await within(fetched.next(), 30_000, 'the first fetched message')).value?.sequence, 1n);
    fetching.abort();
    await eventually(async () => (await openFetches()) === 0, 10_000);
  }
});
