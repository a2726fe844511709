import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inOrder } from './read-ahead.js';

/** An endless input that counts how far it has been read. */
function countedInput(sizes: (index: number) => number) {
  const counter = { read: 0 };
  async function* items() {
    for (;;) yield { index: counter.read, bytes: sizes(counter.read++) };
  }
  return { counter, items: items() };
}

/** Results that settle only when the test says so. */
function heldResults() {
  const releases: (() => void)[] = [];
  const start = (item: { index: number }) => new Promise<number>((resolve) => releases.push(() => resolve(item.index)));
  return { releases, start };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('reads ahead at most maxRequests requests while their results are pending, and answers in order', async () => {
  const { counter, items } = countedInput(() => 1);
  const { releases, start } = heldResults();
  const output = inOrder(items, start, (item) => item.bytes, { maxRequests: 4, maxBytes: 1 << 20 }, new AbortController().signal);
  const first = output.next();
  await settle();
  assert.equal(counter.read, 4, 'four requests in flight, the fifth not read');
  releases[2]!();
  releases[1]!();
  await settle();
  assert.equal(counter.read, 4, 'later results settling first free no room: answers go in order');
  releases[0]!();
  assert.deepEqual(await first, { done: false, value: 0 });
  assert.deepEqual(await output.next(), { done: false, value: 1 });
  assert.deepEqual(await output.next(), { done: false, value: 2 });
  await settle();
  // The room an answer makes is used when the next answer is asked for.
  assert.equal(counter.read, 6, 'each answer taken makes room for one more request');
});

test('reads ahead at most maxBytes, taking the request that crosses the bound', async () => {
  const { counter, items } = countedInput(() => 300);
  const { start } = heldResults();
  const output = inOrder(items, start, (item) => item.bytes, { maxRequests: 100, maxBytes: 1000 }, new AbortController().signal);
  void output.next();
  await settle();
  assert.equal(counter.read, 4, '3 × 300 bytes leave room; the fourth crosses 1000 and is the last read');
});

test('a stop ends reading; what was read is still answered', async () => {
  const { counter, items } = countedInput(() => 1);
  const { releases, start } = heldResults();
  const stop = new AbortController();
  const output = inOrder(items, start, (item) => item.bytes, { maxRequests: 2, maxBytes: 1 << 20 }, stop.signal);
  const first = output.next();
  await settle();
  stop.abort();
  releases[0]!();
  releases[1]!();
  assert.deepEqual(await first, { done: false, value: 0 });
  assert.deepEqual(await output.next(), { done: false, value: 1 });
  assert.deepEqual(await output.next(), { done: true, value: 'stopped' });
  assert.equal(counter.read, 2, 'nothing is read after the stop');
});
