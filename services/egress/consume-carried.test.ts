import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createMetrics } from '../platform/metrics.js';
import { createMessageStore } from '../store/message-store.js';
import type { PublishMessage } from '../store/store.js';
import { payload } from '../testing/conformance-harness.js';
import { testBackends } from '../testing/store-backends.js';
import { consumeFrames } from './consume.js';
import { createSubjectWatch } from './subject-watch.js';

const inlineMaxBytes = 64;
const small = (seed: number): PublishMessage => ({ subject: 'carried', data: payload(16, seed), headers: { seed: String(seed) } });
const large = (seed: number): PublishMessage => ({ subject: 'carried', data: payload(4096, seed), headers: { seed: String(seed) } });

for (const backend of testBackends) {
  test(`Consume on ${backend.name}: messages the change feed carries are sent once, in order, and only object payloads are read`, async (t) => {
    const { metadata, objects } = await backend.open(t);
    const store = createMessageStore({ metadata, objects, inlineMaxBytes, maxMessageBytes: 1024 * 1024 });
    const stop = new AbortController();
    t.after(async () => {
      stop.abort();
      await store.close();
    });
    const logger = pino({ level: 'silent' });
    const watch = createSubjectWatch({ store, logger, signal: stop.signal });
    let reads = 0;
    const counted = {
      read: (...args: Parameters<typeof store.read>) => {
        reads++;
        return store.read(...args);
      },
      ackFloor: store.ackFloor.bind(store),
      ack: store.ack.bind(store),
    };
    const deps = { store: counted, watch, metrics: createMetrics(), logger, heartbeatMs: 60_000 };
    const request = { subject: 'carried', durable: 'carried', startSequence: undefined, maxAckPending: 0, maxBatch: 0 };
    const frames = consumeFrames(deps, request, stop.signal);

    // Published one commit at a time, each once the stream holds everything before it.
    const commits = [[small(1)], [small(2), small(3)], [large(4)], [small(5)], [large(6), small(7)], [small(8)], [small(9), small(10)]];
    const published: PublishMessage[] = [];
    const delivered: { sequence: bigint; data: Uint8Array; headers: Record<string, string> }[] = [];
    for (const commit of commits) {
      await store.publish(commit);
      published.push(...commit);
      while (delivered.length < published.length) {
        const frame = await next(frames);
        delivered.push(
          ...(frame.messages ?? []).map((message) => ({ sequence: message.sequence!, data: message.data!, headers: message.headers! })),
        );
      }
    }

    assert.deepEqual(
      delivered.map((message) => message.sequence),
      published.map((_, index) => BigInt(index + 1)),
      'each message once, in order',
    );
    delivered.forEach((message, index) => {
      assert.deepEqual(Buffer.from(message.data), Buffer.from(published[index]!.data), `the bytes of ${index + 1}`);
      assert.equal(message.headers.seed, published[index]!.headers.seed);
    });
    assert.equal(reads, 3, 'the first commit (before the feed carried anything) and the two holding an object payload are read');
  });
}

/** The stream's next frame, failing the test if none comes within 20 s (a hang guard, not a timing check). */
async function next<T>(frames: AsyncGenerator<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no frame within 20 s')), 20_000)));
  try {
    const result = await Promise.race([frames.next(), hung]);
    assert.equal(result.done, false, 'the stream ended');
    return result.value as T;
  } finally {
    clearTimeout(timer);
  }
}
