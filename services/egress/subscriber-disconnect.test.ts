import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, payload } from '../testing/conformance-harness.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import { egressClient, ingressClient, startTestServices, type Protocol } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { countWaits, wrapBackend, type WaitCounter } from '../testing/wrapped-backend.js';

/** The open-streams gauge as /metrics reports it, summed over methods. */
async function openStreams(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('minitoolstream_open_streams'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

// The original server could crash sending on the closed stream of a subscriber that went away.
test('subscribers that disconnect abruptly leave no stream behind and share one store wait', async (t) => {
  const waits: WaitCounter = { started: 0, inFlight: 0 };
  const backend = wrapBackend(tarantoolBackend, { metadata: (inner) => countWaits(inner, waits) });
  const services = await startTestServices(t, { backend });
  const ingress = ingressClient(services);
  const subject = 'sensors.flaky';
  await ingress.publish({ subject, data: payload(4) });
  const waitsBefore = waits.started;

  for (const protocol of ['grpc', 'grpcweb', 'connect'] as Protocol[]) {
    const egress = egressClient(services, protocol);
    for (let round = 0; round < 5; round++) {
      const client = new AbortController();
      const stream = egress.subscribe({ subject, durableName: `gone-${protocol}-${round}` }, { signal: client.signal });
      const iterator = stream[Symbol.asyncIterator]();
      assert.equal((await within(iterator.next(), 30_000, 'the first notification')).value?.sequence, 1n);
      assert.ok(waits.inFlight <= 1);
      client.abort();
      await assert.rejects(iterator.next());
    }
  }
  await eventually(async () => (await openStreams(services.egress.url)) === 0, 5000);
  // Every subscriber reused the one wait of the subject: none was abandoned inside Tarantool.
  assert.ok(waits.started - waitsBefore <= 2, `${waits.started - waitsBefore} waits for 15 subscribers`);
  assert.ok(waits.inFlight <= 1);

  // The service still works: a new subscriber is notified of the next commit.
  const egress = egressClient(services);
  const client = new AbortController();
  const stream = egress.subscribe({ subject, startSequence: 2n, durableName: 'after' }, { signal: client.signal })[Symbol.asyncIterator]();
  await ingress.publish({ subject, data: payload(4) });
  assert.equal((await within(stream.next(), 30_000, 'the notification of sequence 2')).value?.sequence, 2n);
  client.abort();
  await eventually(async () => (await openStreams(services.egress.url)) === 0, 5000);
  // With no follower left, the subject's watcher retires once its wait returns.
  await ingress.publish({ subject, data: payload(4) });
  await eventually(async () => waits.inFlight === 0, 5000);
});
