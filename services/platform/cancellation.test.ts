import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capturedLogger } from '../testing/captured-logger.js';
import { eventually, payload } from '../testing/conformance-harness.js';
import { metricValue } from '../testing/metric-value.js';
import { egressClient, ingressClient, startTestServices, type Protocol } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { RPC_HANDLED } from './metrics.js';

const MiB = 1024 * 1024;

test('a call the client cancels is CANCELLED in the metrics and not logged as a failure', async (t) => {
  const { logger, lines } = capturedLogger('info');
  const services = await startTestServices(t, { logger });
  const subject = 'cancel.me';
  // Large enough that a Fetch is still sending when the client goes.
  for (let index = 0; index < 8; index++) await ingressClient(services).publish({ subject, data: payload(4 * MiB, index) });
  const handled = (method: string, code: string) =>
    metricValue(services.egress.url, RPC_HANDLED, { service: 'minitoolstream.EgressService', method, code });

  for (const [index, protocol] of (['grpc', 'grpcweb', 'connect'] as Protocol[]).entries()) {
    const egress = egressClient(services, protocol);
    const fetching = new AbortController();
    const fetched = egress
      .fetch({ subject, durableName: `f-${protocol}`, batchSize: 8 }, { signal: fetching.signal })
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
