import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { openTarantoolMetadataStore } from '../store/tarantool/metadata-store.js';
import { eventually, payload } from '../testing/conformance-harness.js';
import { openTarantoolBackend, waitUntilConnected } from '../testing/tarantool-backend.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';
import { countWaits, type WaitCounter } from '../testing/wrapped-backend.js';
import { createSubjectWatch } from './subject-watch.js';

// Each watched subject once held one Tarantool request open: 17,000 of them
// exhausted its request slots (net_msg_max) and every publish timed out.
test('fifty thousand watched subjects cost one waiting call and leave publishing unaffected', async (t) => {
  const { metadata, objects, tarantool } = await openTarantoolBackend(t);
  const services = await startTestServices(t, { backend: { name: 'tarantool', open: async () => ({ metadata, objects }) } });

  // The watching side has its own connection, as a separate egress process would.
  const watcherStore = openTarantoolMetadataStore({ ...tarantool, callTimeoutMs: 5000 });
  t.after(() => watcherStore.close());
  await waitUntilConnected(watcherStore);
  const waits: WaitCounter = { started: 0, inFlight: 0 };
  const watch = createSubjectWatch({ store: countWaits(watcherStore, waits), logger: pino({ level: 'silent' }) });
  const subjects = 50_000;
  const watches = Array.from({ length: subjects }, (_, index) => watch.watch(`tenants.t${index}`));
  t.after(() => watches.forEach((watched) => watched.close()));
  await eventually(async () => watches.every((watched) => watched.lastSequence === 0n), 60_000);
  assert.equal(watch.watchedSubjects, subjects);
  assert.equal(waits.inFlight, 1, 'one waiting call covers every subject');

  const streams = new AbortController();
  t.after(() => streams.abort());
  const subscribed = egressClient(services)
    .subscribe({ subject: 'tenants.t7', startSequence: 1n }, { signal: streams.signal })
    [Symbol.asyncIterator]()
    .next();
  const watched = watches[subjects - 1]!;
  // Joining already woke the watch (the feed's start, the first read): take that
  // wake-up first, or `changed` answers it at once and the commit is not waited for.
  while (await watched.changed(streams.signal, 0));
  const woken = watched.changed(streams.signal, 30_000);

  const startedAt = performance.now();
  const ingress = ingressClient(services);
  const { sequence } = await ingress.publish({ subject: `tenants.t${subjects - 1}`, data: payload(4) }, { timeoutMs: 3000 });
  assert.equal(sequence, 1n);
  assert.equal(await woken, true, 'the commit reached the watch of its subject');
  assert.equal(watched.lastSequence, 1n);
  t.diagnostic(`publish + wake-up with ${subjects} subjects watched: ${(performance.now() - startedAt).toFixed(1)} ms`);

  await ingress.publish({ subject: 'tenants.t7', data: payload(4) }, { timeoutMs: 3000 });
  assert.equal((await subscribed).value?.sequence, 1n, 'a Subscribe stream of the service is notified as well');
  assert.ok(waits.inFlight <= 1);
});
