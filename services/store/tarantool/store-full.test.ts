import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../testing/conformance-harness.js';
import { waitUntilConnected } from '../../testing/tarantool-backend.js';
import { startTarantool } from '../../testing/tarantool-server.js';
import { StoreFullError, type MetadataRecord } from '../store.js';
import { openTarantoolMetadataStore } from './metadata-store.js';

const record = (subject: string): MetadataRecord => ({
  subject,
  timestampMs: Date.now(),
  headers: {},
  size: 1000,
  inline: new Uint8Array(1000),
  objectKey: '',
});

test('a publisher flood on a small memtx ends in StoreFullError, and publishing resumes once space is freed', async (t) => {
  // The test server's memtx is 64 MiB; refusing at 15 % makes it "small" without a minutes-long flood.
  const server = await startTarantool(t, { env: { TARANTOOL_MEMTX_REFUSE_PERCENT: '15' } });
  const store = openTarantoolMetadataStore({ ...server, callTimeoutMs: 5000, maxReconnectDelayMs: 100 });
  t.after(() => store.close());
  await waitUntilConnected(store);

  let refusal: unknown;
  for (let round = 0; round < 200 && refusal === undefined; round++) {
    try {
      await store.commit(Array.from({ length: 500 }, () => record('flood')));
    } catch (error) {
      refusal = error;
    }
  }
  assert.ok(refusal instanceof StoreFullError, `the flood ends in StoreFullError, not ${String(refusal)}`);
  assert.match(refusal.message, /tarantool memory is \d+% full; publishes are refused from 15%/);
  const stats = await store.storageStats();
  assert.ok(stats.memoryUsedPercent! >= 15, 'the stats report the memory in use');
  assert.ok(stats.messages > 0n);

  assert.equal(await store.ack('reader', 'flood', 1n), 1n, 'acks still work');
  assert.equal((await store.readAfter('flood', 0n, 1))[0]?.sequence, 1n, 'and reads');
  assert.equal(await store.purge('flood', undefined), Number(stats.messages));
  // Tarantool hands freed tuple memory back in the background, so the first commits after the purge may still be refused.
  let sequence: bigint | undefined;
  await eventually(async () => {
    [sequence] = await store.commit([record('flood')]).then(
      (committed) => committed.map((one) => one.sequence),
      (error: unknown) => {
        if (error instanceof StoreFullError) return [undefined];
        throw error;
      },
    );
    return sequence !== undefined;
  }, 20_000);
  assert.equal(sequence, stats.messages + 1n, 'publishing resumes once a purge freed space');
});

test('a commit that memtx cannot allocate ends in StoreFullError, not an internal failure', async (t) => {
  // The smallest arena Tarantool takes, and no refusal before it: allocation itself fails.
  const server = await startTarantool(t, {
    env: { TARANTOOL_MEMTX_MEMORY: String(32 * 1024 * 1024), TARANTOOL_MEMTX_REFUSE_PERCENT: '100' },
  });
  const store = openTarantoolMetadataStore({ ...server, callTimeoutMs: 5000, maxReconnectDelayMs: 100 });
  t.after(() => store.close());
  await waitUntilConnected(store);

  let refusal: unknown;
  let committed = 0n;
  for (let round = 0; round < 200 && refusal === undefined; round++) {
    try {
      committed += BigInt((await store.commit(Array.from({ length: 500 }, () => record('exhausted')))).length);
    } catch (error) {
      refusal = error;
    }
  }
  assert.ok(refusal instanceof StoreFullError, `memtx running out ends in StoreFullError, not ${String(refusal)}`);
  assert.match(refusal.message, /could not take the batch \(Failed to allocate \d+ bytes/);
  assert.equal(await store.lastSequence('exhausted'), committed, 'the refused batch left nothing behind');
  assert.equal((await store.readAfter('exhausted', 0n, 1))[0]?.sequence, 1n, 'reads still work');
});
