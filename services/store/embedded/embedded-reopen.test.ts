import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { collect, payload } from '../../testing/conformance-harness.js';
import { openEmbeddedHalves } from '../../testing/embedded-backend.js';
import { createMessageStore } from '../message-store.js';

test('messages, payloads, ack floors and consumer owners survive close and reopen of the data folder', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-reopen-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const openStore = async () => createMessageStore({ ...(await openEmbeddedHalves(dir)), inlineMaxBytes: 100, maxMessageBytes: 1 << 20 });

  const first = await openStore();
  const sent = [payload(10, 1), payload(5000, 2), payload(0)];
  await first.publish(sent.map((data) => ({ subject: 'kept', data, headers: { 'content-type': 'text/plain' } })));
  await first.ack('reader', 'kept', 1n);
  await first.claimConsumer('reader', 'kept', 'client-a');
  await first.close();

  const second = await openStore();
  t.after(() => second.close());
  assert.equal(await second.lastSequence('kept'), 3n);
  assert.equal(await second.ackFloor('reader', 'kept'), 1n);
  assert.equal(await second.claimConsumer('reader', 'kept', 'client-b'), false);
  const read = await collect(second.read('kept', 0n, { maxMessages: 10, maxBytes: 1 << 20 }));
  assert.deepEqual(
    read.map((message) => new Uint8Array(message.data)),
    sent,
  );
  assert.deepEqual(read[1]!.headers, { 'content-type': 'text/plain', 'data-size': '5000' });
  const [next] = await second.publish([{ subject: 'kept', data: payload(1), headers: {} }]);
  assert.equal(next!.sequence, 4n);
});
