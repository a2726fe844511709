import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { test } from 'node:test';
import { eventually, payload } from '../testing/conformance-harness.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';
import { countWaits, wrapBackend, type WaitCounter } from '../testing/wrapped-backend.js';

// Each watched subject holds one Tarantool request open; at Tarantool's
// default net_msg_max (768) that many waits stopped it reading any request.
test('a thousand watched subjects do not stall Tarantool for publishers', async (t) => {
  const waits: WaitCounter = { started: 0, inFlight: 0 };
  const backend = wrapBackend(tarantoolBackend, { metadata: (inner) => countWaits(inner, waits) });
  const services = await startTestServices(t, { backend });
  const egress = egressClient(services);
  const streams = new AbortController();
  setMaxListeners(0, streams.signal);
  t.after(() => streams.abort());
  const subjects = 1000;
  const notified = Array.from({ length: subjects }, (_, index) =>
    egress
      .subscribe({ subject: `tenants.t${index}`, durableName: 'watcher' }, { signal: streams.signal })
      [Symbol.asyncIterator]()
      .next()
      .catch(() => undefined),
  );
  await eventually(async () => waits.inFlight === subjects, 20_000);

  const startedAt = performance.now();
  const { sequence } = await ingressClient(services).publish({ subject: 'tenants.t999', data: payload(4) }, { timeoutMs: 3000 });
  assert.equal(sequence, 1n);
  assert.equal((await notified[999])?.value?.sequence, 1n);
  t.diagnostic(`publish with ${subjects} subjects watched: ${(performance.now() - startedAt).toFixed(1)} ms`);
});
