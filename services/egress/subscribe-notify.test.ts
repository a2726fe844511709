import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { test } from 'node:test';
import { eventually, payload } from '../testing/conformance-harness.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';
import { countWaits, wrapBackend, type WaitCounter } from '../testing/wrapped-backend.js';

// Presence is awaited for this long; absence (`undefined`) is checked over a short window.
const arrivalMs = 30_000;

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
    assert.deepEqual(await nextWithin(open('behind'), arrivalMs), { $typeName: 'minitoolstream.Notification', subject, sequence: 1n });
  });

  await t.test('start_sequence names the first sequence of interest, instead of the ack floor', async () => {
    const from = (startSequence: bigint) =>
      egress.subscribe({ subject, startSequence }, { signal: streams.signal })[Symbol.asyncIterator]();
    assert.equal((await nextWithin(from(1n), arrivalMs))?.sequence, 1n, 'sequence 1 exists: notified at once');
    assert.equal(await nextWithin(from(2n), 300), undefined, 'sequence 2 does not exist yet: no notification');
  });

  await t.test('a commit reaches a waiting subscriber', async () => {
    const stream = open('waiting');
    assert.equal((await nextWithin(stream, arrivalMs))?.sequence, 1n);
    const pending = nextWithin(stream, arrivalMs);
    const { sequence } = await ingress.publish({ subject, data: payload(4) });
    assert.equal((await pending)?.sequence, sequence);
  });

  await t.test('1000 idle streams on one subject share one waiting store call', async () => {
    const startedBefore = waits.started;
    const idle = Array.from({ length: 1000 }, (_, index) => open(`idle-${index}`));
    // Each stream is behind (floor 0), so its first notification proves it is open.
    const first = await Promise.all(idle.map((stream) => nextWithin(stream, arrivalMs)));
    assert.ok(first.every((notification) => notification?.sequence === 2n));
    await eventually(async () => waits.inFlight === 1, arrivalMs);
    assert.ok(waits.started - startedBefore <= 2, `${waits.started - startedBefore} waits were started`);

    const pending = idle.map((stream) => nextWithin(stream, arrivalMs));
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
