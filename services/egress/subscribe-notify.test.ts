import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { test } from 'node:test';
import { eventually, payload } from '../testing/conformance-harness.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';
import { countWaits, wrapBackend, type WaitCounter } from '../testing/wrapped-backend.js';

/** Resolves with the next notification of a stream, or `undefined` if none comes within `ms`. */
async function nextWithin<T>(stream: AsyncIterator<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([stream.next().then((result) => (result.done ? undefined : result.value)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('Subscribe pushes commits at once and costs one store wait per process', async (t) => {
  const waits: WaitCounter = { started: 0, inFlight: 0 };
  const backend = wrapBackend(tarantoolBackend, { metadata: (inner) => countWaits(inner, waits) });
  const services = await startTestServices(t, { backend });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  const subject = 'alerts.fire';
  const streams = new AbortController();
  // A thousand streams share this signal on purpose.
  setMaxListeners(2000, streams.signal);
  t.after(() => streams.abort());
  const open = (durableName: string) => egress.subscribe({ subject, durableName }, { signal: streams.signal })[Symbol.asyncIterator]();

  await t.test('a caught-up consumer gets no notification on open', async () => {
    await ingress.publish({ subject, data: payload(4) });
    await egress.ackMessage({ subject, durableName: 'caught-up', sequence: 1n });
    assert.equal(await nextWithin(open('caught-up'), 300), undefined);
  });

  await t.test('a consumer behind its subject is notified on open', async () => {
    assert.deepEqual(await nextWithin(open('behind'), 1000), { $typeName: 'minitoolstream.Notification', subject, sequence: 1n });
  });

  await t.test('start_sequence names the first sequence of interest, instead of the ack floor', async () => {
    const from = (startSequence: bigint) =>
      egress.subscribe({ subject, startSequence }, { signal: streams.signal })[Symbol.asyncIterator]();
    assert.equal((await nextWithin(from(1n), 1000))?.sequence, 1n, 'sequence 1 exists: notified at once');
    assert.equal(await nextWithin(from(2n), 300), undefined, 'sequence 2 does not exist yet: no notification');
  });

  await t.test('a commit reaches a waiting subscriber well within a second', async () => {
    const stream = open('waiting');
    assert.equal((await nextWithin(stream, 1000))?.sequence, 1n);
    const pending = nextWithin(stream, 1000);
    const startedAt = performance.now();
    const { sequence } = await ingress.publish({ subject, data: payload(4) });
    const notification = await pending;
    const elapsedMs = performance.now() - startedAt;
    assert.equal(notification?.sequence, sequence);
    assert.ok(elapsedMs < 1000, `notified after ${elapsedMs} ms`);
    t.diagnostic(`publish + notification: ${elapsedMs.toFixed(1)} ms`);
  });

  await t.test('1000 idle streams on one subject share one waiting store call', async () => {
    const startedBefore = waits.started;
    const idle = Array.from({ length: 1000 }, (_, index) => open(`idle-${index}`));
    // Each stream is behind (floor 0), so its first notification proves it is open.
    // Opening a thousand streams takes seconds on a busy machine; the bound only ends a hung test.
    const first = await Promise.all(idle.map((stream) => nextWithin(stream, 30_000)));
    assert.ok(first.every((notification) => notification?.sequence === 2n));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(waits.inFlight, 1, 'one waiting call for the process');
    assert.ok(waits.started - startedBefore <= 2, `${waits.started - startedBefore} waits were started`);

    const pending = idle.map((stream) => nextWithin(stream, 30_000));
    await ingress.publish({ subject, data: payload(4) });
    const woken = await Promise.all(pending);
    assert.ok(
      woken.every((notification) => notification?.sequence === 3n),
      'every stream was notified',
    );
    streams.abort();
    // The wait in flight is not abandoned: the feed stops when it returns.
    await ingress.publish({ subject, data: payload(4) });
    await eventually(async () => waits.inFlight === 0, 5000);
  });
});
