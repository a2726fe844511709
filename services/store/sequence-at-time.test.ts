import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { forEachBackend, payload } from '../testing/conformance-harness.js';
import type { MessageStore } from './store.js';

/** Publishes `count` messages in one batch once the clock has passed `afterMs`; returns the batch's commit time. */
async function publishAfter(store: MessageStore, subject: string, count: number, afterMs: number): Promise<number> {
  // Waits for the clock to tick (bounded), so batches have distinct times.
  for (const deadline = Date.now() + 5000; Date.now() <= afterMs && Date.now() < deadline;) await delay(1);
  await store.publish(Array.from({ length: count }, (_, index) => ({ subject, data: payload(8, index), headers: {} })));
  const last = await store.lastSequence(subject);
  for await (const message of store.read(subject, last - 1n, { maxMessages: 1, maxBytes: 1024 })) return message.timestampMs;
  throw new Error('the batch just published is not readable');
}

forEachBackend('sequenceAtTime finds the first message at or after a time', async (_t, open) => {
  const { store } = await open();
  const subject = 'timed.events';
  assert.equal(await store.sequenceAtTime(subject, Date.now()), 0n, 'nothing stored');
  const first = await publishAfter(store, subject, 10, 0);
  const second = await publishAfter(store, subject, 7, first);
  const third = await publishAfter(store, subject, 1, second);

  assert.equal(await store.sequenceAtTime(subject, 0), 1n, 'before everything');
  assert.equal(await store.sequenceAtTime(subject, first), 1n);
  assert.equal(await store.sequenceAtTime(subject, first + 1), 11n);
  assert.equal(await store.sequenceAtTime(subject, second), 11n);
  assert.equal(await store.sequenceAtTime(subject, third), 18n);
  assert.equal(await store.sequenceAtTime(subject, third + 1), 19n, 'after everything: one past the last');
});
