import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { payload } from '../testing/conformance-harness.js';
import { testBackends } from '../testing/store-backends.js';
import type { TestBackend } from '../testing/test-backend.js';
import type { GroupCommitLimits } from './group-commit.js';
import { createMessageStore } from './message-store.js';
import { PublishOrder } from './publish-order.js';
import {
  ExpectedLastSequenceError,
  UploadExpiredError,
  type CommitStats,
  type MessageStore,
  type MetadataRecord,
  type PublishMessage,
} from './store.js';

/** The metadata commits a store made, with a gate that can hold the next one in flight. */
interface CommitLog {
  calls: MetadataRecord[][];
  stats: CommitStats[];
  /** Holds the next commit call until `release()`; resolves once that call has started. */
  holdNext(): { started: Promise<void>; release(): void };
  /** Before the next commit, removes the pending-upload entry of the objects it names. */
  expireUploadsOfNext(): void;
  /** Resolves once an object upload has finished and its publish has gone on to queue its commit. */
  uploaded: Promise<void>;
}

async function openLoggedStore(t: TestContext, backend: TestBackend, limits?: GroupCommitLimits): Promise<[MessageStore, CommitLog]> {
  let store: MessageStore | undefined;
  t.after(() => store?.close());
  const { metadata, objects } = await backend.open(t);
  let hold: { started: () => void; released: Promise<void> } | undefined;
  let expireNext = false;
  let uploadFinished!: () => void;
  const log: CommitLog = {
    uploaded: new Promise<void>((resolve) => (uploadFinished = resolve)).then(() => new Promise<void>((resolve) => setImmediate(resolve))),
    calls: [],
    stats: [],
    holdNext() {
      let started!: () => void;
      let release!: () => void;
      const startedPromise = new Promise<void>((resolve) => (started = resolve));
      hold = { started, released: new Promise<void>((resolve) => (release = resolve)) };
      return { started: startedPromise, release };
    },
    expireUploadsOfNext: () => (expireNext = true),
  };
  const logged = {
    ...metadata,
    async commit(batch: MetadataRecord[], signal?: AbortSignal, duplicateWindowMs?: number) {
      log.calls.push(batch);
      const held = hold;
      hold = undefined;
      if (held) {
        held.started();
        await held.released;
        return metadata.commit(batch, signal, duplicateWindowMs);
      }
      if (expireNext) {
        expireNext = false;
        for (const { objectKey } of batch) if (objectKey !== '') await metadata.removePendingUpload(objectKey);
      }
      return metadata.commit(batch, signal, duplicateWindowMs);
    },
  };
  const watchedObjects = {
    ...objects,
    async put(key: string, data: Uint8Array, contentType: string, signal?: AbortSignal) {
      await objects.put(key, data, contentType, signal);
      uploadFinished();
    },
  };
  store = createMessageStore({
    metadata: logged,
    objects: watchedObjects,
    inlineMaxBytes: 64,
    maxMessageBytes: 1 << 20,
    ...(limits ? { groupCommit: limits } : {}),
  });
  store.onCommit((stats) => log.stats.push(stats));
  return [store, log];
}

const messages = (subject: string, count: number, size = 8): PublishMessage[] =>
  Array.from({ length: count }, (_, index) => ({ subject, data: payload(size, index), headers: {} }));

const sequencesOf = (results: { sequence: bigint }[]) => results.map((result) => result.sequence);

function forEachBackend(name: string, body: (t: TestContext, backend: TestBackend) => Promise<void>): void {
  test(name, async (t) => {
    for (const backend of testBackends) await t.test(backend.name, (bt) => body(bt, backend));
  });
}

forEachBackend('an idle publish is committed by one call on its own', async (t, backend) => {
  const [store, log] = await openLoggedStore(t, backend);
  const results = await store.publish(messages('idle', 2));
  assert.deepEqual(sequencesOf(results), [1n, 2n]);
  assert.equal(log.calls.length, 1);
  assert.deepEqual(log.stats, [{ batches: 1, messages: 2 }]);
});

forEachBackend('publishes made together share one commit, each batch atomic with its own sequences', async (t, backend) => {
  const [store, log] = await openLoggedStore(t, backend);
  const sizes = [1, 3, 2, 1];
  const results = await Promise.all(sizes.map((size) => store.publish(messages('together', size))));
  assert.deepEqual(results.map(sequencesOf), [[1n], [2n, 3n, 4n], [5n, 6n], [7n]]);
  assert.equal(log.calls.length, 1);
  assert.deepEqual(log.stats, [{ batches: 4, messages: 7 }]);
});

forEachBackend('publishes arriving while a commit is in flight go together into the next one', async (t, backend) => {
  const [store, log] = await openLoggedStore(t, backend);
  const held = log.holdNext();
  const first = store.publish(messages('inflight', 1));
  await held.started;
  const later = ['inflight', 'other', 'inflight'].map((subject) => store.publish(messages(subject, 2)));
  held.release();
  assert.deepEqual(sequencesOf(await first), [1n]);
  assert.deepEqual((await Promise.all(later)).map(sequencesOf), [
    [2n, 3n],
    [1n, 2n],
    [4n, 5n],
  ]);
  assert.deepEqual(log.stats, [
    { batches: 1, messages: 1 },
    { batches: 3, messages: 6 },
  ]);
});

forEachBackend('a merged commit stays within its message bound', async (t, backend) => {
  const [store, log] = await openLoggedStore(t, backend, { maxMessages: 4, maxBytes: 1 << 20 });
  const held = log.holdNext();
  const first = store.publish(messages('bounded', 5));
  await held.started;
  const later = [2, 2, 2].map((count) => store.publish(messages('bounded', count)));
  held.release();
  await Promise.all([first, ...later]);
  assert.deepEqual(log.stats, [
    // A batch larger than the bound still goes, alone.
    { batches: 1, messages: 5 },
    { batches: 2, messages: 4 },
    { batches: 1, messages: 2 },
  ]);
});

forEachBackend('an expired upload fails only its own batch; the others of its commit are retried', async (t, backend) => {
  const [store, log] = await openLoggedStore(t, backend);
  const held = log.holdNext();
  const first = store.publish(messages('expiry', 1));
  await held.started;
  log.expireUploadsOfNext();
  const before = store.publish(messages('expiry', 1));
  const large = store.publish(messages('expiry', 1, 1000));
  const after = store.publish(messages('expiry', 2));
  await log.uploaded;
  held.release();
  await assert.rejects(large, UploadExpiredError);
  assert.deepEqual(sequencesOf(await first), [1n]);
  assert.deepEqual(sequencesOf(await before), [2n]);
  assert.deepEqual(sequencesOf(await after), [3n, 4n]);
  assert.deepEqual(
    log.calls.map((call) => call.length),
    [1, 4, 3],
  );
});

forEachBackend(
  'in one merged commit, a failed expected-last-sequence fails only its batch and duplicates only their messages',
  async (t, backend) => {
    const [store, log] = await openLoggedStore(t, backend);
    const held = log.holdNext();
    const first = store.publish(messages('merged.dedup', 1));
    await held.started;
    const withHeaders = (headers: Record<string, string>): PublishMessage => ({ subject: 'merged.dedup', data: payload(8), headers });
    const stale = store.publish([withHeaders({}), withHeaders({ 'expected-last-sequence': '1' })]);
    const identified = store.publish([withHeaders({ 'msg-id': 'a' }), withHeaders({ 'msg-id': 'b' })]);
    const repeating = store.publish([withHeaders({ 'msg-id': 'a' }), withHeaders({ 'expected-last-sequence': '3' })]);
    held.release();
    await assert.rejects(stale, (error: unknown) => error instanceof ExpectedLastSequenceError && error.lastSequence === 2n);
    assert.deepEqual(await first, [{ sequence: 1n, objectName: '' }]);
    assert.deepEqual(await identified, [
      { sequence: 2n, objectName: '' },
      { sequence: 3n, objectName: '' },
    ]);
    // Its duplicate is of the other caller's message; its condition holds after that caller's messages.
    assert.deepEqual(await repeating, [
      { sequence: 2n, objectName: '', duplicate: true },
      { sequence: 4n, objectName: '' },
    ]);
    assert.deepEqual(
      log.calls.map((call) => call.length),
      [1, 6, 4],
    );
  },
);

forEachBackend('one order keeps its batches in call order although the first waits for an upload', async (t, backend) => {
  const [store] = await openLoggedStore(t, backend);
  const order = new PublishOrder();
  const slow = store.publish(messages('ordered', 1, 5000), undefined, order);
  const quick = store.publish(messages('ordered', 1), undefined, order);
  assert.deepEqual(sequencesOf(await quick), [2n]);
  assert.deepEqual(sequencesOf(await slow), [1n]);
});

forEachBackend('a publish aborted while queued is dropped from its commit', async (t, backend) => {
  const [store, log] = await openLoggedStore(t, backend);
  const held = log.holdNext();
  const first = store.publish(messages('aborted', 1));
  await held.started;
  const controller = new AbortController();
  const abandoned = store.publish(messages('aborted', 2), controller.signal);
  const kept = store.publish(messages('aborted', 1));
  controller.abort(new Error('client went away'));
  held.release();
  await assert.rejects(abandoned, /client went away/);
  assert.deepEqual((await Promise.all([first, kept])).map(sequencesOf), [[1n], [2n]]);
  assert.deepEqual(log.stats, [
    { batches: 1, messages: 1 },
    { batches: 1, messages: 1 },
  ]);
});
