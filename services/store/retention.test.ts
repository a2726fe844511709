import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { EXPIRY_LAG, observeStorage, POLICY_STORED_MESSAGES, STORED_OBJECTS } from '../platform/store-metrics.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteMetadataStore } from './embedded/sqlite-metadata-store.js';
import { openTarantoolBackend } from '../testing/tarantool-backend.js';
import {
  collect,
  eventually,
  everything,
  forEachBackend,
  objectSize,
  payload,
  type StoreUnderTest,
} from '../testing/conformance-harness.js';
import { startRetentionWorker } from './retention-worker.js';
import {
  ObjectMissingError,
  RetentionLimitError,
  RetentionPolicyConflictError,
  msgIdHeader,
  unlimitedRetention,
  type MetadataStore,
  type PublishResult,
  type RetentionPolicy,
} from './store.js';

const fast = { retentionIntervalMs: 20 };

async function sequencesOf({ store }: StoreUnderTest, subject: string): Promise<bigint[]> {
  return (await collect(store.read(subject, 0n, everything))).map((message) => message.sequence);
}

/** Waits until the deleted messages' objects are gone from the object store and the queue is empty. */
async function objectsRemoved({ metadata, objects }: StoreUnderTest, results: PublishResult[]): Promise<void> {
  const keys = results.map((result) => result.objectName).filter((key) => key !== '');
  assert.ok(keys.length > 0, 'the test deletes object payloads');
  await eventually(async () => (await metadata.deletedObjects(10)).length === 0, 10_000);
  for (const key of keys) await assert.rejects(objects.get(key), ObjectMissingError);
}

forEachBackend('max_messages keeps exactly the newest messages of each subject, objects of the rest removed', async (_t, open) => {
  const opened = await open({ ...fast, defaultRetention: { ...unlimitedRetention, maxMessages: 3 } });
  const { store } = opened;
  const published: PublishResult[] = [];
  for (let index = 0; index < 6; index++) {
    published.push(...(await store.publish([{ subject: 'kept.three', data: payload(index < 3 ? objectSize : 10, index), headers: {} }])));
  }
  await store.publish([{ subject: 'under.limit', data: payload(10), headers: {} }]);
  await eventually(async () => (await store.subjectStats('kept.three'))?.messages === 3n, 10_000);
  assert.deepEqual(await sequencesOf(opened, 'kept.three'), [4n, 5n, 6n]);
  const stats = await store.subjectStats('kept.three');
  assert.equal(stats?.firstSequence, 4n);
  assert.equal(stats?.bytes, 30n);
  assert.deepEqual(await sequencesOf(opened, 'under.limit'), [1n]);
  await objectsRemoved(opened, published.slice(0, 3));
  const [next] = await store.publish([{ subject: 'kept.three', data: payload(10), headers: {} }]);
  assert.equal(next!.sequence, 7n, 'sequences are never reused');
});

forEachBackend('max_bytes deletes the oldest messages until the rest fit, no more', async (_t, open) => {
  const opened = await open({ ...fast, defaultRetention: { ...unlimitedRetention, maxBytes: 2 * objectSize + 100 } });
  const { store } = opened;
  const published: PublishResult[] = [];
  for (let index = 0; index < 4; index++) {
    published.push(...(await store.publish([{ subject: 'sized', data: payload(objectSize, index), headers: {} }])));
  }
  published.push(...(await store.publish([{ subject: 'sized', data: payload(100), headers: {} }])));
  // 4 × 2000 + 100 bytes against 4100: the oldest two go, leaving 2000 + 2000 + 100.
  await eventually(async () => (await store.subjectStats('sized'))?.firstSequence === 3n, 10_000);
  assert.deepEqual(await sequencesOf(opened, 'sized'), [3n, 4n, 5n]);
  assert.equal((await store.subjectStats('sized'))?.bytes, BigInt(2 * objectSize + 100));
  await objectsRemoved(opened, published.slice(0, 2));
  const [firstKept] = await collect(store.read('sized', 0n, everything));
  assert.deepEqual(new Uint8Array(firstKept!.data), payload(objectSize, 2), 'kept objects are still readable');
});

forEachBackend('max_age deletes messages once they are older than the limit, not before', async (_t, open) => {
  const maxAgeMs = 2000;
  const opened = await open({ ...fast, defaultRetention: { ...unlimitedRetention, maxAgeMs } });
  const { store } = opened;
  const old = await store.publish([
    { subject: 'aging', data: payload(objectSize), headers: {} },
    { subject: 'aging', data: payload(10), headers: {} },
  ]);
  const [oldest] = await collect(store.read('aging', 0n, everything));
  // Time passing is the event here: the second batch is younger by at least a second.
  await eventually(async () => Date.now() >= oldest!.timestampMs + 1000, 5000);
  await store.publish([{ subject: 'aging', data: payload(10), headers: {} }]);
  const [, , young] = await collect(store.read('aging', 0n, everything));

  await eventually(async () => (await store.subjectStats('aging'))?.firstSequence !== 1n, 10_000);
  assert.ok(Date.now() > oldest!.timestampMs + maxAgeMs, 'nothing was deleted before it was older than max_age');
  const remaining = await sequencesOf(opened, 'aging');
  if (Date.now() < young!.timestampMs + maxAgeMs) assert.deepEqual(remaining, [3n], 'the young message is kept');
  await objectsRemoved(opened, old);
  await eventually(async () => (await store.subjectStats('aging'))?.messages === 0n, 10_000);
  assert.equal((await store.subjectStats('aging'))?.lastSequence, 3n);
});

forEachBackend('purge deletes up to a sequence or all of a subject, objects included', async (_t, open) => {
  const opened = await open(fast);
  const { store } = opened;
  const published = await store.publish([
    { subject: 'purged', data: payload(objectSize, 1), headers: {} },
    { subject: 'purged', data: payload(10, 2), headers: {} },
    { subject: 'purged', data: payload(objectSize, 3), headers: {} },
    { subject: 'purged', data: payload(10, 4), headers: {} },
    { subject: 'neighbour', data: payload(10, 5), headers: {} },
  ]);
  assert.equal(await store.purge('purged', 2n), 2);
  assert.deepEqual(await sequencesOf(opened, 'purged'), [3n, 4n]);
  assert.equal((await store.subjectStats('purged'))?.bytes, BigInt(objectSize + 10));
  await objectsRemoved(opened, published.slice(0, 1));
  assert.equal(await store.purge('purged', 2n), 0, 'purging again deletes nothing');
  assert.equal(await store.purge('purged', undefined), 2);
  assert.deepEqual(await sequencesOf(opened, 'purged'), []);
  await objectsRemoved(opened, published.slice(2, 3));
  assert.deepEqual(await sequencesOf(opened, 'neighbour'), [1n], 'other subjects are untouched');
  const [next] = await store.publish([{ subject: 'purged', data: payload(10), headers: {} }]);
  assert.equal(next!.sequence, 5n, 'sequences are never reused');
});

const policy = (pattern: string, limits: Partial<RetentionPolicy>): RetentionPolicy => ({
  pattern,
  ...unlimitedRetention,
  maxMessageBytes: 0,
  discard: 'old',
  retention: 'limits',
  ...limits,
});

forEachBackend('the most specific pattern wins, and a tie is refused at creation', async (_t, open) => {
  const opened = await open(fast);
  const { store } = opened;
  await store.setRetentionPolicy(policy('orders.>', { maxMessages: 1 }));
  await store.setRetentionPolicy(policy('orders.*.eu', { maxMessages: 2 }));
  await store.setRetentionPolicy(policy('orders.us.eu', { maxMessages: 3 }));
  await assert.rejects(store.setRetentionPolicy(policy('orders.us.*', { maxMessages: 4 })), RetentionPolicyConflictError);
  await store.setRetentionPolicy(policy('orders.>', { maxMessages: 5 }));
  assert.deepEqual(
    (await store.listRetentionPolicies()).filter((found) => found.pattern !== '>').map((found) => [found.pattern, found.maxMessages]),
    [
      ['orders.*.eu', 2],
      ['orders.>', 5],
      ['orders.us.eu', 3],
    ],
  );
  assert.equal((await store.retentionPolicyOf('orders.fr.eu'))?.pattern, 'orders.*.eu');
  assert.equal((await store.retentionPolicyOf('orders.us.eu'))?.pattern, 'orders.us.eu');
  assert.equal((await store.retentionPolicyOf('orders.fr'))?.pattern, 'orders.>');
  // The services write the default policy in the background once the store answers.
  await eventually(async () => (await store.retentionPolicyOf('stock'))?.pattern === '>');

  for (const subject of ['orders.fr.eu', 'orders.fr', 'stock']) {
    await store.publish(Array.from({ length: 6 }, (_, index) => ({ subject, data: payload(4, index), headers: {} })));
  }
  await eventually(async () => (await store.subjectStats('orders.fr.eu'))?.messages === 2n, 10_000);
  assert.deepEqual(await sequencesOf(opened, 'orders.fr.eu'), [5n, 6n]);
  await eventually(async () => (await store.subjectStats('orders.fr'))?.messages === 5n, 10_000);
  assert.equal((await store.subjectStats('stock'))?.messages, 6n);
  assert.equal(await store.deleteRetentionPolicy('orders.*.eu'), true);
  assert.equal(await store.deleteRetentionPolicy('orders.*.eu'), false);
  assert.equal((await store.retentionPolicyOf('orders.fr.eu'))?.pattern, 'orders.>');
});

forEachBackend('discard new refuses the publish naming the limit and commits nothing of its batch', async (_t, open) => {
  const opened = await open(fast);
  const { store } = opened;
  await store.setRetentionPolicy(policy('full.count', { maxMessages: 2, discard: 'new' }));
  await store.setRetentionPolicy(policy('full.bytes', { maxBytes: 10, discard: 'new' }));
  await store.setRetentionPolicy(policy('full.size', { maxMessageBytes: 8 }));
  const one = (subject: string, size = 4) => ({ subject, data: payload(size), headers: {} });

  await store.publish([one('full.count'), one('full.count')]);
  await assert.rejects(store.publish([one('other'), one('full.count')]), (error: unknown) => {
    assert.ok(error instanceof RetentionLimitError);
    assert.equal(error.limit, 'max_messages');
    assert.match(error.message, /full\.count is full: max_messages = 2 \(retention policy "full\.count"\)/);
    return true;
  });
  assert.equal(await store.lastSequence('other'), 0n, 'nothing of the refused batch is committed');
  await assert.rejects(store.publish([one('full.bytes', 6), one('full.bytes', 6)]), { limit: 'max_bytes' });
  await store.publish([one('full.bytes', 6)]);
  await assert.rejects(store.publish([one('full.size', 9)]), { limit: 'max_message_bytes' });
  await store.publish([one('full.size', 8)]);

  // Merged into one commit, only the batch over the limit fails.
  const results = await Promise.allSettled([store.publish([one('full.count')]), store.publish([one('other')])]);
  assert.equal(results[0].status, 'rejected');
  assert.equal(results[1].status, 'fulfilled');
  assert.deepEqual(await sequencesOf(opened, 'full.count'), [1n, 2n], 'discard new never deletes the old messages');
  await store.purge('full.count', undefined);
  await store.publish([one('full.count')]);
  assert.deepEqual(await sequencesOf(opened, 'full.count'), [3n], 'room made by a purge takes publishes again');
});

forEachBackend('a duplicate stores nothing, so it never counts against a discard-new limit', async (_t, open) => {
  const { store } = await open(fast);
  await store.setRetentionPolicy(policy('dedup.full', { maxMessages: 1, discard: 'new' }));
  const withId = (id: string) => ({ subject: 'dedup.full', data: payload(4), headers: { [msgIdHeader]: id } });

  const first = await store.publish([withId('x'), withId('x')]);
  assert.deepEqual(
    first.map(({ sequence, duplicate }) => [sequence, duplicate]),
    [
      [1n, undefined],
      [1n, true],
    ],
    'the repeat inside the batch is a duplicate, not a second message over the limit',
  );
  const again = await store.publish([withId('x')]);
  assert.equal(again[0]!.duplicate, true, 'a repeat of a full subject answers the original');
  await assert.rejects(store.publish([withId('y')]), { limit: 'max_messages' });
  assert.equal(await store.lastSequence('dedup.full'), 1n);
});

forEachBackend('storage stats count what is stored, expired and purged', async (_t, open) => {
  const { store } = await open({ ...fast, defaultRetention: { ...unlimitedRetention, maxMessages: 2 } });
  // Messages 1 (expired) and 4 (purged) carry objects.
  const sizes = [objectSize, 4, 4, objectSize, 4];
  await store.publish(sizes.map((size, index) => ({ subject: 'counted', data: payload(size, index), headers: {} })));
  await eventually(async () => (await store.storageStats()).expired === 3n, 10_000);
  assert.equal((await store.storageStats()).objects, 1n, 'the expired object no longer counts');
  assert.equal(await store.purge('counted', undefined), 2);
  assert.equal((await store.storageStats()).objects, 0n, 'nor the purged one');
  await store.publish([{ subject: 'other', data: payload(objectSize), headers: {} }]);
  const { memoryUsedPercent, ...totals } = await store.storageStats();
  assert.deepEqual(totals, {
    messages: 1n,
    bytes: BigInt(objectSize),
    objects: 1n,
    expired: 3n,
    purged: 2n,
    policies: [{ pattern: '>', messages: 1n, bytes: BigInt(objectSize), expiryLagMs: 0 }],
  });
  assert.ok(memoryUsedPercent === undefined || (memoryUsedPercent > 0 && memoryUsedPercent < 100));
  const registry = new Registry();
  observeStorage(store, registry);
  assert.deepEqual(
    (await registry.getSingleMetric(STORED_OBJECTS)!.get()).values.map(({ value }) => value),
    [1],
    'the gauge exports the count',
  );
});

forEachBackend('objects of deleted messages wait in the durable queue until a worker removes them', async (_t, open) => {
  // A worker that never runs stands for a service that died between the metadata delete and the object removal.
  const opened = await open({ retentionIntervalMs: 3_600_000 });
  const { store, metadata, objects } = opened;
  const [big] = await store.publish([{ subject: 'crashed', data: payload(objectSize), headers: {} }]);
  assert.equal(await store.purge('crashed', undefined), 1);
  assert.deepEqual(await metadata.deletedObjects(10), [big!.objectName], 'the key is queued with the metadata delete');
  assert.equal((await objects.get(big!.objectName)).byteLength, objectSize, 'the object waits for the worker');

  const restarted = startRetentionWorker({ metadata, objects, defaultRetention: unlimitedRetention, intervalMs: 20 });
  try {
    await objectsRemoved(opened, [big!]);
  } finally {
    await restarted.stop();
  }
});

forEachBackend('interest retention deletes after the last consumer acknowledges, and not before', async (_t, open) => {
  const opened = await open(fast);
  const { store } = opened;
  await store.setRetentionPolicy(policy('jobs.>', { retention: 'interest' }));
  const published = await store.publish(
    Array.from({ length: 4 }, (_, index) => ({ subject: 'jobs.mail', data: payload(index === 0 ? objectSize : 4, index), headers: {} })),
  );
  await store.ack('fast', 'jobs.mail', 3n);
  await store.ack('slow', 'jobs.mail', 1n);
  await eventually(async () => (await store.subjectStats('jobs.mail'))?.firstSequence === 2n, 10_000);
  await objectsRemoved(opened, published.slice(0, 1));
  assert.deepEqual(await sequencesOf(opened, 'jobs.mail'), [2n, 3n, 4n], 'what the slow consumer has not acknowledged stays');
  await store.ack('slow', 'jobs.mail', 4n);
  await eventually(async () => (await store.subjectStats('jobs.mail'))?.firstSequence === 4n, 10_000);
  assert.deepEqual(await sequencesOf(opened, 'jobs.mail'), [4n], 'the fast consumer has not acknowledged 4 yet');
  assert.equal((await store.retentionPolicyOf('jobs.mail'))?.retention, 'interest');
});

const hourMs = 3_600_000;
/**
 * Metadata stores holding `policies` whose expiry worker passes only when a
 * policy changes (or hourly), so what becomes due waits to be seen. The
 * embedded one is reopened: closing waits for the passes the policy changes
 * started, which would otherwise still be running when the test commits.
 */
const pausedExpiry: Array<{ name: string; open: (t: TestContext, policies: RetentionPolicy[]) => Promise<MetadataStore> }> = [
  {
    name: 'embedded',
    async open(t, policies) {
      const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-expiry-lag-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const options = { file: join(dir, 'metadata.sqlite'), expiryIntervalMs: hourMs };
      const first = await openSqliteMetadataStore(options);
      for (const each of policies) await first.setRetentionPolicy(each);
      await first.close();
      const metadata = await openSqliteMetadataStore(options);
      t.after(() => metadata.close());
      return metadata;
    },
  },
  {
    name: 'tarantool',
    async open(t, policies) {
      const { metadata } = await openTarantoolBackend(t, { env: { TARANTOOL_EXPIRY_INTERVAL_S: String(hourMs / 1000) } });
      for (const each of policies) await metadata.setRetentionPolicy(each);
      return metadata;
    },
  },
];

const committedAt = (subject: string, timestampMs: number) => ({
  subject,
  timestampMs,
  headers: {},
  size: 1,
  inline: payload(1),
  objectKey: '',
});

test('storage stats give per policy its messages and its expiry lag: how long its oldest due message has waited', async (t) => {
  for (const backend of pausedExpiry) {
    await t.test(backend.name, async (bt) => {
      const metadata = await backend.open(bt, [
        policy('aged.>', { maxAgeMs: hourMs }),
        policy('counted.*', { maxMessages: 2 }),
        policy('kept.*', {}),
      ]);
      const committedMs = Date.now();
      const ago = (minutes: number) => committedMs - minutes * 60_000;
      // New subjects after the passes the policy changes started: no pass sees them for an hour.
      await metadata.commit([
        committedAt('aged.x', ago(120)),
        committedAt('aged.x', ago(90)),
        committedAt('counted.a', ago(50)),
        committedAt('counted.a', ago(40)),
        committedAt('counted.a', ago(30)),
        committedAt('kept.a', ago(180)),
      ]);
      const registry = new Registry();
      observeStorage(metadata, registry);
      const askedMs = Date.now();
      const { policies } = await metadata.storageStats();
      const answeredMs = Date.now();
      assert.deepEqual(
        policies.map(({ pattern, messages, bytes }) => ({ pattern, messages, bytes })),
        [
          { pattern: 'aged.>', messages: 2n, bytes: 2n },
          { pattern: 'counted.*', messages: 3n, bytes: 3n },
          { pattern: 'kept.*', messages: 1n, bytes: 1n },
        ],
      );
      // Due since: aged.x's oldest at ago(120) + 1 h; counted.a since its third commit put it over 2, at ago(30).
      const lags = Object.fromEntries(policies.map((entry) => [entry.pattern, entry.expiryLagMs]));
      // The store's clock is read between the two readings here (Tarantool's cached to its event loop turn: 1 s of slack).
      const within = (lagMs: number, dueMs: number) => lagMs >= askedMs - dueMs - 1000 && lagMs <= answeredMs - dueMs;
      assert.ok(within(lags['aged.>']!, ago(120) + hourMs), `aged.> lag ${lags['aged.>']}`);
      assert.ok(within(lags['counted.*']!, ago(30)), `counted.* lag ${lags['counted.*']}`);
      assert.equal(lags['kept.*'], 0, 'an unlimited policy is never behind');

      const exported = await registry.getSingleMetric(EXPIRY_LAG)!.get();
      const seconds = (pattern: string) => exported.values.find((value) => value.labels.policy === pattern)?.value;
      assert.equal(seconds('kept.*'), 0);
      assert.ok(seconds('aged.>')! >= 3599, `exported lag ${seconds('aged.>')} s`);
      const stored = await registry.getSingleMetric(POLICY_STORED_MESSAGES)!.get();
      assert.deepEqual(
        stored.values.map((value) => [value.labels.policy, value.value]),
        [
          ['aged.>', 2],
          ['counted.*', 3],
          ['kept.*', 1],
        ],
        'one series per policy, none per subject',
      );

      // A policy change starts a pass: it deletes what was due and the lag falls to 0.
      await metadata.setRetentionPolicy(policy('kept.*', {}));
      await eventually(async () => (await metadata.storageStats()).policies.every((entry) => entry.expiryLagMs === 0), 10_000);
      assert.deepEqual(
        (await metadata.storageStats()).policies.map(({ pattern, messages }) => [pattern, messages]),
        [
          ['aged.>', 0n],
          ['counted.*', 2n],
          ['kept.*', 1n],
        ],
      );
    });
  }
});
