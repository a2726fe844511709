import assert from 'node:assert/strict';
import {
  collect,
  eventually,
  everything,
  forEachBackend,
  objectSize,
  payload,
  type StoreUnderTest,
} from '../testing/conformance-harness.js';
import {
  ConsumerConflictError,
  ConsumerNotFoundError,
  deadLetterHeaders,
  deliveryCountHeader,
  type ConsumerConfig,
  type MessageLease,
  type Settlement,
} from './consumers.js';
import { type StoreChange, type StoredMessage, unlimitedRetention } from './store.js';

/*
 * The configured-consumer half of the storage contract (see consumers.ts),
 * against every backend of testing/store-backends.ts (forEachBackend runs
 * each test once per backend, as a subtest named after it). Time is the
 * `nowMs` the caller passes, so lease expiry is tested without waiting.
 */

// Expiry never runs while a test looks at the deleted-objects queue.
const noWorker = { retentionIntervalMs: 3_600_000 };

function configOf(durable: string, overrides: Partial<ConsumerConfig> = {}): ConsumerConfig {
  return {
    durable,
    filterSubjects: ['orders.>'],
    ackPolicy: 'explicit',
    ackWaitMs: 1000,
    maxDeliver: 0,
    backoffMs: [],
    maxAckPending: 1000,
    deliver: { kind: 'all' },
    deadLetterSubject: '',
    ...overrides,
  };
}

/** Publishes `count` messages of `size` bytes to `subject`, one batch. */
async function publish({ store }: StoreUnderTest, subject: string, count: number, size = 8, headers: Record<string, string> = {}) {
  const batch = Array.from({ length: count }, (_, index) => ({ subject, data: payload(size, index), headers }));
  return store.publish(batch);
}

/** Creates the consumer and starts it on each subject at 0. */
async function consumer({ store }: StoreUnderTest, config: ConsumerConfig, subjects: string[], nowMs: number) {
  const record = await store.createConsumer(config, nowMs);
  await store.startConsumerSubjects(
    config.durable,
    subjects.map((subject) => ({ subject, startAfter: 0n })),
  );
  return record;
}

/** What a lease handed out, as `subject:sequence/deliveryCount`. */
const leased = (lease: MessageLease) => lease.messages.map((message) => `${message.subject}:${message.sequence}/${message.deliveryCount}`);
const settlement = (subject: string, sequence: bigint, kind: Settlement['kind'], extra: Partial<Settlement> = {}): Settlement => ({
  subject,
  sequence,
  kind,
  delayMs: 0,
  deliveryCount: undefined,
  ...extra,
});
const read = async ({ store }: StoreUnderTest, subject: string): Promise<StoredMessage[]> => collect(store.read(subject, 0n, everything));

forEachBackend('create is idempotent, a different config conflicts, and the record round-trips', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  const config = configOf('workers', { deliver: { kind: 'sequence', sequence: 5n }, backoffMs: [10, 20], maxDeliver: 3 });
  const created = await store.createConsumer(config, 1000);
  assert.deepEqual(created, { config, createdMs: 1000 });
  assert.deepEqual(await store.createConsumer(config, 2000), created, 'the same config again keeps the first record');
  await assert.rejects(
    store.createConsumer({ ...config, ackWaitMs: 5000 }, 3000),
    (error: unknown) => error instanceof ConsumerConflictError && error.durable === 'workers' && error.fields.includes('ackWaitMs'),
  );
  assert.deepEqual(await store.consumerRecord('workers'), created);
  assert.equal(await store.consumerRecord('nobody'), undefined);
  await store.createConsumer(configOf('alpha'), 4000);
  assert.deepEqual(
    (await store.listConsumerRecords()).map((record) => record.config.durable),
    ['alpha', 'workers'],
  );
  assert.deepEqual(await store.listConsumers(undefined), [], 'configured consumers are not legacy durables');
});

forEachBackend('update replaces the config except ack policy and deliver policy', async (_t, open) => {
  const { store } = await open();
  const config = configOf('workers');
  await store.createConsumer(config, 1000);
  const updated = await store.updateConsumer({ ...config, ackWaitMs: 9000, maxAckPending: 7, filterSubjects: ['orders.*', 'audit'] });
  assert.deepEqual(updated, {
    config: { ...config, ackWaitMs: 9000, maxAckPending: 7, filterSubjects: ['orders.*', 'audit'] },
    createdMs: 1000,
  });
  assert.deepEqual(await store.consumerRecord('workers'), updated);
  await assert.rejects(
    store.updateConsumer({ ...config, ackPolicy: 'all' }),
    (error: unknown) => error instanceof ConsumerConflictError && error.fields.includes('ackPolicy'),
  );
  await assert.rejects(
    store.updateConsumer({ ...config, deliver: { kind: 'new' } }),
    (error: unknown) => error instanceof ConsumerConflictError && error.fields.includes('deliver'),
  );
  assert.deepEqual(await store.consumerRecord('workers'), updated, 'a refused update changes nothing');
  await assert.rejects(store.updateConsumer(configOf('nobody')), ConsumerNotFoundError);
});

forEachBackend('delete removes config, positions and leases', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 3);
  await consumer(opened, configOf('workers'), ['orders.a'], 1000);
  assert.equal((await store.lease('workers', ['orders.a'], everything, 1000)).messages.length, 3);
  assert.equal(await store.deleteConsumer('workers'), true);
  assert.equal(await store.deleteConsumer('workers'), false);
  assert.equal(await store.consumerRecord('workers'), undefined);
  assert.equal(await store.consumerStats('workers'), undefined);
  await assert.rejects(store.lease('workers', ['orders.a'], everything, 1000), ConsumerNotFoundError);
  await assert.rejects(store.settle('workers', [settlement('orders.a', 1n, 'ack')], 1000), ConsumerNotFoundError);
  await assert.rejects(store.startConsumerSubjects('workers', [{ subject: 'orders.a', startAfter: 0n }]), ConsumerNotFoundError);

  await consumer(opened, configOf('workers'), ['orders.a'], 2000);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2000)), ['orders.a:1/1', 'orders.a:2/1', 'orders.a:3/1']);
});

forEachBackend('a position starts where it is told once and never moves after; subjects without one are skipped', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 4);
  await publish(opened, 'orders.b', 2);
  await store.createConsumer(configOf('workers'), 1000);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a', 'orders.b'], everything, 1000)), [], 'no position, nothing leased');
  await store.startConsumerSubjects('workers', [{ subject: 'orders.a', startAfter: 2n }]);
  await store.startConsumerSubjects('workers', [
    { subject: 'orders.a', startAfter: 0n },
    { subject: 'orders.b', startAfter: 1n },
  ]);
  // Subjects are leased in the order given.
  assert.deepEqual(leased(await store.lease('workers', ['orders.none', 'orders.b', 'orders.a'], everything, 1000)), [
    'orders.b:2/1',
    'orders.a:3/1',
    'orders.a:4/1',
  ]);
  const stats = await store.consumerStats('workers');
  assert.deepEqual(
    stats!.positions.toSorted((x, y) => x.subject.localeCompare(y.subject)),
    [
      { subject: 'orders.a', ackFloor: 2n, delivered: 4n, lastSequence: 4n },
      { subject: 'orders.b', ackFloor: 1n, delivered: 2n, lastSequence: 2n },
    ],
  );
});

forEachBackend('leases are exclusive: concurrent leases never hand one message out twice', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 20);
  await consumer(opened, configOf('workers'), ['orders.a'], 1000);
  const leases = await Promise.all(
    Array.from({ length: 8 }, () => store.lease('workers', ['orders.a'], { maxMessages: 3, maxBytes: 1024 ** 3 }, 1000)),
  );
  const handedOut = leases.flatMap((lease) => lease.messages.map((message) => message.sequence));
  assert.equal(handedOut.length, 20);
  assert.equal(new Set(handedOut).size, 20);
  assert.ok(leases.every((lease) => lease.messages.length <= 3));
});

forEachBackend('redeliveries come first, oldest lease first, before new messages', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 4);
  await consumer(opened, configOf('workers', { ackWaitMs: 1000 }), ['orders.a'], 1000);
  const one = { maxMessages: 1, maxBytes: 1024 ** 3 };
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], one, 1000)), ['orders.a:1/1']);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], one, 1100)), ['orders.a:2/1']);
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 2n, 'nak')], 1200), ['applied']);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], { maxMessages: 3, maxBytes: 1024 ** 3 }, 2500)), [
    'orders.a:2/2',
    'orders.a:1/2',
    'orders.a:3/1',
  ]);
});

forEachBackend('an expired lease is redelivered only to a lease call that names its subject', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.eu', 1);
  await publish(opened, 'orders.us', 1);
  await consumer(opened, configOf('workers', { ackWaitMs: 1000, maxDeliver: 2 }), ['orders.eu', 'orders.us'], 1000);
  assert.deepEqual(leased(await store.lease('workers', ['orders.eu', 'orders.us'], everything, 1000)), ['orders.eu:1/1', 'orders.us:1/1']);
  for (const nowMs of [3000, 5000, 7000]) {
    assert.deepEqual(leased(await store.lease('workers', ['orders.eu'], everything, nowMs)), nowMs === 3000 ? ['orders.eu:1/2'] : []);
  }
  const stats = await store.consumerStats('workers');
  assert.equal(stats?.deadLettered, 1n, 'orders.eu ran out of deliveries');
  assert.deepEqual(leased(await store.lease('workers', ['orders.us'], everything, 7000)), ['orders.us:1/2'], 'orders.us kept its attempts');
});

forEachBackend('maxAckPending bounds new leases; expired leases are redelivered even at the bound', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 5);
  await consumer(opened, configOf('workers', { maxAckPending: 2 }), ['orders.a'], 1000);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 1000)), ['orders.a:1/1', 'orders.a:2/1']);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 1000)), [], 'no room');
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 1n, 'ack')], 1000), ['applied']);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 1000)), ['orders.a:3/1']);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2000)), ['orders.a:2/2', 'orders.a:3/2']);
  await store.updateConsumer(configOf('workers', { maxAckPending: 3 }));
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2000)), ['orders.a:4/1'], 'an update takes effect');
});

forEachBackend('a lease stops at the byte limit, and the first message always fits', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 3, 100);
  await publish(opened, 'orders.a', 1, objectSize);
  await consumer(opened, configOf('workers'), ['orders.a'], 1000);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], { maxMessages: 10, maxBytes: 250 }, 1000)), [
    'orders.a:1/1',
    'orders.a:2/1',
  ]);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], { maxMessages: 10, maxBytes: 10 }, 1000)), ['orders.a:3/1']);
  const big = await store.lease('workers', ['orders.a'], { maxMessages: 10, maxBytes: 10 }, 1000);
  assert.deepEqual(leased(big), ['orders.a:4/1']);
  assert.deepEqual(new Uint8Array(big.messages[0]!.data), payload(objectSize, 0), 'the object payload is read');
  const redeliveries = { maxMessages: 10, maxBytes: 250 };
  assert.deepEqual(
    leased(await store.lease('workers', ['orders.a'], redeliveries, 2000)),
    ['orders.a:1/2', 'orders.a:2/2'],
    'redeliveries too',
  );
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], redeliveries, 2000)), ['orders.a:3/2']);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], redeliveries, 2000)), ['orders.a:4/2']);
});

forEachBackend('leased messages carry their payloads and headers', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await store.publish([
    { subject: 'orders.a', data: payload(10, 1), headers: { 'x-trace': 'one' } },
    { subject: 'orders.a', data: payload(objectSize, 2), headers: { 'x-trace': 'two' } },
  ]);
  await consumer(opened, configOf('workers'), ['orders.a'], 1000);
  const { messages } = await store.lease('workers', ['orders.a'], everything, 1000);
  const [plain, stored] = await read(opened, 'orders.a');
  assert.deepEqual(
    messages.map(({ deliveryCount, ...message }) => ({ ...message, data: new Uint8Array(message.data), deliveryCount })),
    [plain, stored].map((message) => ({ ...message!, data: new Uint8Array(message!.data), deliveryCount: 1 })),
  );
});

forEachBackend('a lease lasts ackWait, or the backoff entry of its delivery (the last one repeats)', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 1);
  await publish(opened, 'orders.b', 1);
  await consumer(opened, configOf('plain', { ackWaitMs: 700 }), ['orders.a'], 1000);
  const first = await store.lease('plain', ['orders.a'], everything, 1000);
  assert.equal(first.nextExpiryMs, 1700);
  assert.deepEqual(leased(await store.lease('plain', ['orders.a'], everything, 1699)), []);
  assert.deepEqual(leased(await store.lease('plain', ['orders.a'], everything, 1700)), ['orders.a:1/2']);

  await consumer(opened, configOf('backoff', { ackWaitMs: 30_000, backoffMs: [100, 500], maxDeliver: 5 }), ['orders.b'], 1000);
  const expiries: (number | undefined)[] = [];
  let now = 1000;
  for (let delivery = 1; delivery <= 4; delivery++) {
    const lease = await store.lease('backoff', ['orders.b'], everything, now);
    assert.deepEqual(leased(lease), [`orders.b:1/${delivery}`]);
    expiries.push(lease.nextExpiryMs);
    assert.deepEqual(leased(await store.lease('backoff', ['orders.b'], everything, lease.nextExpiryMs! - 1)), [], 'not before it expires');
    now = lease.nextExpiryMs!;
  }
  assert.deepEqual(expiries, [1100, 1600, 2100, 2600]);
  assert.equal((await store.lease('plain', ['orders.a'], everything, 1700)).nextExpiryMs, 2400, 'nothing leased, the next expiry told');
});

forEachBackend('past maxDeliver a message becomes a dead letter with its headers, in the same call', async (_t, open) => {
  const opened = await open(noWorker);
  const { store, metadata } = opened;
  const [inline] = await publish(opened, 'orders.a', 1, 10, { 'x-trace': 'abc' });
  const [stored] = await publish(opened, 'orders.a', 1, objectSize);
  const config = configOf('workers', { maxDeliver: 2, ackWaitMs: 1000, deadLetterSubject: 'dead.orders' });
  await consumer(opened, config, ['orders.a'], 1000);
  const cursor = (await store.waitForChanges('', 0)).cursor;
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 1000)), ['orders.a:1/1', 'orders.a:2/1']);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2000)), ['orders.a:1/2', 'orders.a:2/2']);
  const last = await store.lease('workers', ['orders.a'], everything, 3000);
  assert.deepEqual(leased(last), []);
  assert.equal(last.deadLettered, 2);
  assert.equal(last.nextExpiryMs, undefined);

  const originals = await read(opened, 'orders.a');
  const letters = await read(opened, 'dead.orders');
  assert.deepEqual(
    letters.map((letter) => letter.sequence),
    [1n, 2n],
  );
  letters.forEach((letter, index) => {
    const original = originals[index]!;
    assert.deepEqual(letter.headers, {
      ...original.headers,
      [deadLetterHeaders.subject]: 'orders.a',
      [deadLetterHeaders.sequence]: String(original.sequence),
      [deadLetterHeaders.consumer]: 'workers',
      [deadLetterHeaders.reason]: 'max_deliver',
      [deliveryCountHeader]: '2',
    });
    assert.deepEqual(new Uint8Array(letter.data), new Uint8Array(original.data));
    assert.equal(letter.timestampMs, 3000, 'a dead letter is committed at the settling call time');
  });
  assert.equal(inline!.objectName, '');
  const [, letterRow] = await metadata.readAfter('dead.orders', 0n, 10);
  assert.equal(letterRow!.objectKey, stored!.objectName, 'the object payload is shared, not copied');

  const stats = await store.consumerStats('workers');
  assert.equal(stats!.ackPending, 0);
  assert.equal(stats!.deadLettered, 2n);
  assert.equal(stats!.delivered, 4n);
  assert.deepEqual(stats!.positions, [{ subject: 'orders.a', ackFloor: 2n, delivered: 2n, lastSequence: 2n }]);
  assert.deepEqual(
    await store.settle('workers', [settlement('orders.a', 1n, 'ack'), settlement('orders.a', 2n, 'nak')], 3000),
    ['not_pending', 'not_pending'],
    'late settlements are harmless',
  );
  const { changes } = await store.waitForChanges(cursor, 0);
  assert.notEqual(changes, 'resync');
  assert.ok(
    (changes as StoreChange[]).some((change) => 'lastSequence' in change && change.subject === 'dead.orders' && change.lastSequence === 2n),
    'the dead letters are commits of their subject in the change feed',
  );
  assert.ok((changes as StoreChange[]).some((change) => 'consumer' in change && change.consumer === 'workers'));
});

forEachBackend("a dead letter's object outlives the original, and goes with the last message naming it", async (_t, open) => {
  const opened = await open(noWorker);
  const { store, metadata, objects } = opened;
  const [stored] = await publish(opened, 'orders.a', 1, objectSize);
  await consumer(opened, configOf('workers', { maxDeliver: 1, deadLetterSubject: 'dead.orders' }), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], everything, 1000);
  assert.equal((await store.lease('workers', ['orders.a'], everything, 5000)).deadLettered, 1);
  assert.equal((await store.storageStats()).objects, 1n, 'an object shared by a dead letter counts once');
  assert.equal(await store.purge('orders.a', undefined), 1);
  assert.deepEqual(await metadata.deletedObjects(10), [], 'the dead letter still names the object');
  assert.equal((await store.storageStats()).objects, 1n, 'and counts while the dead letter names it');
  const [letter] = await read(opened, 'dead.orders');
  assert.deepEqual(new Uint8Array(letter!.data), payload(objectSize, 0));
  assert.equal(await store.purge('dead.orders', undefined), 1);
  assert.deepEqual(await metadata.deletedObjects(10), [stored!.objectName]);
  assert.equal((await store.storageStats()).objects, 0n, 'a queued object no longer counts');
  assert.equal((await objects.get(stored!.objectName)).byteLength, objectSize, 'queued, not yet removed');
});

forEachBackend('term dead-letters at once; without a dead-letter subject the message is only settled', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 3);
  await consumer(opened, configOf('workers', { deadLetterSubject: 'dead.orders' }), ['orders.a'], 1000);
  await consumer(opened, configOf('dropper'), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], everything, 1000);
  await store.lease('workers', ['orders.a'], everything, 2000);
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 2n, 'term')], 2100), ['applied']);
  const [letter] = await read(opened, 'dead.orders');
  assert.equal(letter!.headers[deadLetterHeaders.reason], 'term');
  assert.equal(letter!.headers[deadLetterHeaders.sequence], '2');
  assert.equal(letter!.headers[deliveryCountHeader], '2');
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 2n, 'term')], 2100), ['not_pending']);

  await store.lease('dropper', ['orders.a'], everything, 1000);
  assert.deepEqual(await store.settle('dropper', [settlement('orders.a', 1n, 'term')], 1000), ['applied']);
  const stats = await store.consumerStats('dropper');
  assert.equal(stats!.deadLettered, 1n);
  assert.equal(stats!.ackPending, 2);
  assert.deepEqual(stats!.positions, [{ subject: 'orders.a', ackFloor: 1n, delivered: 3n, lastSequence: 3n }]);
  assert.equal(await store.lastSequence('dead.orders'), 1n, 'nothing was dead-lettered for the dropper');
});

forEachBackend('dead letters are never refused by their subject policy', async (_t, open) => {
  const opened = await open(noWorker);
  const { store } = opened;
  await store.setRetentionPolicy({
    ...unlimitedRetention,
    pattern: 'dead.>',
    maxMessages: 1,
    maxMessageBytes: 1,
    discard: 'new',
    retention: 'limits',
  });
  await publish(opened, 'orders.a', 2, 50);
  await consumer(opened, configOf('workers', { deadLetterSubject: 'dead.orders' }), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], everything, 1000);
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 1n, 'term'), settlement('orders.a', 2n, 'term')], 1000), [
    'applied',
    'applied',
  ]);
  assert.equal(await store.lastSequence('dead.orders'), 2n);
});

forEachBackend('nak makes a message leasable after its delay; progress restarts the lease', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 2);
  await consumer(opened, configOf('workers', { ackWaitMs: 1000 }), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], everything, 1000);
  assert.deepEqual(
    await store.settle(
      'workers',
      [settlement('orders.a', 1n, 'nak', { delayMs: 300 }), settlement('orders.a', 2n, 'progress', { deliveryCount: 1 })],
      1500,
    ),
    ['applied', 'applied'],
  );
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 1799)), []);
  const naked = await store.lease('workers', ['orders.a'], everything, 1800);
  assert.deepEqual(leased(naked), ['orders.a:1/2']);
  assert.equal(naked.nextExpiryMs, 2500, 'progress at 1500 extended the lease of 2 by ackWait');
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2499)), []);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2500)), ['orders.a:2/2']);
});

forEachBackend('a settlement naming an older delivery is stale, except an ack', async (_t, open) => {
  const opened = await open({ ...noWorker });
  const { store } = opened;
  await publish(opened, 'orders.a', 1);
  await consumer(opened, configOf('workers', { ackWaitMs: 1000, deadLetterSubject: 'dead.orders' }), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], everything, 1000);
  await store.lease('workers', ['orders.a'], everything, 2000);
  const old = { deliveryCount: 1 };
  assert.deepEqual(
    await store.settle(
      'workers',
      [settlement('orders.a', 1n, 'nak', old), settlement('orders.a', 1n, 'progress', old), settlement('orders.a', 1n, 'term', old)],
      2100,
    ),
    ['stale', 'stale', 'stale'],
  );
  assert.equal(await store.lastSequence('dead.orders'), 0n);
  assert.equal((await store.lease('workers', ['orders.a'], everything, 2100)).nextExpiryMs, 3000, 'the stale settlements changed nothing');
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 1n, 'ack', old)], 2100), ['applied']);
  assert.equal((await store.consumerStats('workers'))!.ackPending, 0);
});

forEachBackend('explicit acks settle one message each, and the floor rises past every settled one', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 5);
  await consumer(opened, configOf('workers'), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], { maxMessages: 4, maxBytes: 1024 ** 3 }, 1000);
  const floor = async () => (await store.consumerStats('workers'))!.positions[0]!.ackFloor;
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 3n, 'ack')], 1000), ['applied']);
  assert.equal(await floor(), 0n);
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 1n, 'ack')], 1000), ['applied']);
  assert.equal(await floor(), 1n);
  assert.deepEqual(
    await store.settle(
      'workers',
      [settlement('orders.a', 2n, 'ack'), settlement('orders.a', 2n, 'ack'), settlement('orders.a', 5n, 'ack')],
      1000,
    ),
    ['applied', 'not_pending', 'not_pending'],
    'a repeat and a message never delivered are not pending',
  );
  assert.equal(await floor(), 3n);
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 4n, 'ack')], 1000), ['applied']);
  assert.equal(await floor(), 4n, 'the floor stops at delivered');
  assert.equal((await store.consumerStats('workers'))!.ackPending, 0);
});

forEachBackend('ack policy all settles every lease up to the acknowledged sequence', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 5);
  await publish(opened, 'orders.b', 2);
  await consumer(opened, configOf('workers', { ackPolicy: 'all' }), ['orders.a', 'orders.b'], 1000);
  await store.lease('workers', ['orders.a', 'orders.b'], everything, 1000);
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 3n, 'ack')], 1000), ['applied']);
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 2n, 'ack')], 1000), ['not_pending']);
  const stats = await store.consumerStats('workers');
  assert.equal(stats!.ackPending, 4, '4 and 5 of orders.a and both of orders.b');
  assert.deepEqual(
    stats!.positions.toSorted((x, y) => x.subject.localeCompare(y.subject)),
    [
      { subject: 'orders.a', ackFloor: 3n, delivered: 5n, lastSequence: 5n },
      { subject: 'orders.b', ackFloor: 0n, delivered: 2n, lastSequence: 2n },
    ],
  );
});

forEachBackend('a leased message deleted by retention is dropped and the floor moves on', async (_t, open) => {
  const opened = await open(noWorker);
  const { store } = opened;
  await publish(opened, 'orders.a', 3);
  await consumer(opened, configOf('workers', { ackWaitMs: 1000 }), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], { maxMessages: 2, maxBytes: 1024 ** 3 }, 1000);
  assert.equal(await store.purge('orders.a', 1n), 1);
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2000)), ['orders.a:2/2', 'orders.a:3/1']);
  await store.settle('workers', [settlement('orders.a', 2n, 'ack'), settlement('orders.a', 3n, 'ack')], 2000);
  const stats = await store.consumerStats('workers');
  assert.equal(stats!.ackPending, 0);
  assert.deepEqual(stats!.positions, [{ subject: 'orders.a', ackFloor: 3n, delivered: 3n, lastSequence: 3n }]);
});

forEachBackend('consumer stats count deliveries, redeliveries, pending leases and the oldest unsettled message', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 3);
  const record = await consumer(opened, configOf('workers', { ackWaitMs: 1000 }), ['orders.a'], 1000);
  const empty = await store.consumerStats('workers');
  const [first, second] = await read(opened, 'orders.a');
  assert.deepEqual(empty, {
    record,
    positions: [{ subject: 'orders.a', ackFloor: 0n, delivered: 0n, lastSequence: 3n }],
    delivered: 0n,
    ackPending: 0,
    redelivered: 0,
    deadLettered: 0n,
    oldestUnackedMs: first!.timestampMs,
  });
  await store.lease('workers', ['orders.a'], { maxMessages: 2, maxBytes: 1024 ** 3 }, 1000);
  await store.lease('workers', ['orders.a'], { maxMessages: 1, maxBytes: 1024 ** 3 }, 1500);
  await store.settle('workers', [settlement('orders.a', 1n, 'ack')], 1500);
  const busy = await store.consumerStats('workers');
  assert.deepEqual(
    { ...busy, record: undefined },
    {
      record: undefined,
      positions: [{ subject: 'orders.a', ackFloor: 1n, delivered: 3n, lastSequence: 3n }],
      delivered: 3n,
      ackPending: 2,
      redelivered: 0,
      deadLettered: 0n,
      oldestUnackedMs: second!.timestampMs,
    },
  );
  assert.deepEqual(leased(await store.lease('workers', ['orders.a'], everything, 2200)), ['orders.a:2/2']);
  const redelivered = await store.consumerStats('workers');
  assert.equal(redelivered!.redelivered, 1, 'orders.a 2 is on its second delivery');
  assert.equal(redelivered!.ackPending, 2);
  await store.settle('workers', [settlement('orders.a', 2n, 'ack'), settlement('orders.a', 3n, 'ack')], 2200);
  assert.equal((await store.consumerStats('workers'))!.oldestUnackedMs, undefined, 'everything is settled');
});

forEachBackend('settlements that free or release leases wake the consumer in the change feed', async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.a', 3);
  await consumer(opened, configOf('workers'), ['orders.a'], 1000);
  await store.lease('workers', ['orders.a'], everything, 1000);
  let cursor = (await store.waitForChanges('', 0)).cursor;
  const consumerChanges = async () => {
    const batch = await store.waitForChanges(cursor, 0);
    cursor = batch.cursor;
    assert.notEqual(batch.changes, 'resync');
    return (batch.changes as StoreChange[]).filter((change) => 'consumer' in change);
  };
  for (const kind of ['ack', 'nak', 'term'] as const) {
    const sequence = BigInt(['ack', 'nak', 'term'].indexOf(kind) + 1);
    assert.deepEqual(await store.settle('workers', [settlement('orders.a', sequence, kind)], 1000), ['applied']);
    assert.deepEqual(await consumerChanges(), [{ consumer: 'workers' }], kind);
  }
  assert.deepEqual(await store.settle('workers', [settlement('orders.a', 1n, 'ack')], 1000), ['not_pending']);
  assert.deepEqual(await consumerChanges(), [], 'a settlement that changed nothing wakes nobody');
});

forEachBackend('redrive moves dead letters back to their subjects and deletes them, payloads shared', async (_t, open) => {
  const opened = await open(noWorker);
  const { store, metadata } = opened;
  await publish(opened, 'orders.a', 2, 10, { 'x-trace': 'a' });
  await publish(opened, 'orders.b', 1, objectSize, { 'x-trace': 'b' });
  await consumer(opened, configOf('workers', { deadLetterSubject: 'dead.orders' }), ['orders.a', 'orders.b'], 1000);
  await store.lease('workers', ['orders.a', 'orders.b'], everything, 1000);
  await store.settle('workers', [settlement('orders.a', 2n, 'term'), settlement('orders.b', 1n, 'term')], 1000);
  await publish(opened, 'dead.orders', 1, 4, { 'x-note': 'not a dead letter' });
  await store.settle('workers', [settlement('orders.a', 1n, 'term')], 1000);
  const [, objectLetter] = await metadata.readAfter('dead.orders', 0n, 10);
  const originalsA = await read(opened, 'orders.a');
  const originalB = (await read(opened, 'orders.b'))[0]!;

  assert.deepEqual(await store.redrive('dead.orders', 2n, 0n, 1), { moved: 1, lastExamined: 2n }, 'the limit bounds one call');
  assert.deepEqual(await store.redrive('dead.orders', 3n, 3n, 10), { moved: 0, lastExamined: 3n }, 'a plain message is skipped');
  assert.deepEqual(await store.redrive('dead.orders', 1n, 0n, 10), { moved: 2, lastExamined: 4n });
  assert.deepEqual(await store.redrive('dead.orders', 1n, 0n, 10), { moved: 0, lastExamined: 3n });
  assert.deepEqual(
    (await read(opened, 'dead.orders')).map((message) => message.headers['x-note']),
    ['not a dead letter'],
  );

  const redrivenB = (await metadata.readAfter('orders.b', 1n, 10))[0]!;
  assert.equal(redrivenB.objectKey, objectLetter!.objectKey, 'the object moves by reference');
  assert.deepEqual(await metadata.deletedObjects(10), []);
  const [b] = await collect(store.read('orders.b', 1n, everything));
  assert.deepEqual(b!.headers, originalB.headers, 'the dead-letter headers are gone');
  assert.deepEqual(new Uint8Array(b!.data), new Uint8Array(originalB.data));
  const redrivenA = await collect(store.read('orders.a', 2n, everything));
  assert.deepEqual(
    redrivenA.map((message) => [message.sequence, new Uint8Array(message.data)]),
    [
      [3n, new Uint8Array(originalsA[1]!.data)],
      [4n, new Uint8Array(originalsA[0]!.data)],
    ],
    'in dead-letter order',
  );
  assert.equal((await store.storageStats()).objects, 1n, 'the original, its dead letter and the redriven message share one object');
  assert.equal(await store.purge('orders.b', undefined), 2);
  assert.deepEqual(await metadata.deletedObjects(10), [objectLetter!.objectKey], 'queued once, with the last message naming it');
  assert.equal((await store.storageStats()).objects, 0n);
});

forEachBackend('interest retention keeps what a configured consumer has not settled', async (_t, open) => {
  const opened = await open({ retentionIntervalMs: 20 });
  const { store } = opened;
  await store.setRetentionPolicy({ ...unlimitedRetention, pattern: 'orders.>', maxMessageBytes: 0, discard: 'old', retention: 'interest' });
  await publish(opened, 'orders.a', 4);
  await consumer(opened, configOf('workers'), ['orders.a'], 1000);
  await store.ack('reader', 'orders.a', 4n);
  await store.lease('workers', ['orders.a'], everything, 1000);
  await store.settle(
    'workers',
    [settlement('orders.a', 1n, 'ack'), settlement('orders.a', 2n, 'ack'), settlement('orders.a', 4n, 'ack')],
    1000,
  );
  await eventually(async () => (await store.subjectStats('orders.a'))?.firstSequence === 3n, 10_000);
  await store.settle('workers', [settlement('orders.a', 3n, 'ack')], 1000);
  await eventually(async () => (await store.subjectStats('orders.a'))?.messages === 0n, 10_000);
});

forEachBackend("Fetch's read from the ack floor and the unconfigured ack leave a configured durable alone", async (_t, open) => {
  const opened = await open();
  const { store } = opened;
  await publish(opened, 'orders.legacy', 130);
  const fetched = async (durable: string, maxMessages: number, maxBytes = everything.maxBytes) => {
    const read = await store.readFromAckFloor(durable, 'orders.legacy', { maxMessages, maxBytes });
    if (read === 'configured') return read;
    return { ackFloor: read.ackFloor, sequences: (await collect(read.messages)).map((message) => Number(message.sequence)) };
  };
  const from = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, index) => first + index);
  assert.deepEqual(await fetched('plain', 120), { ackFloor: 0n, sequences: from(1, 120) }, 'pages after the first one too');
  assert.deepEqual(await fetched('plain', 10, 20), { ackFloor: 0n, sequences: [1, 2] }, 'within maxBytes');
  assert.equal(await store.ackUnconfigured('plain', 'orders.legacy', 125n), 125n);
  assert.equal(await store.ackUnconfigured('plain', 'orders.legacy', 3n), 125n, 'an older ack is a no-op');
  assert.deepEqual(await fetched('plain', 10), { ackFloor: 125n, sequences: from(126, 130) });
  await assert.rejects(store.ackUnconfigured('plain', 'orders.legacy', 131n), /past the last sequence/);

  await store.createConsumer(configOf('shaped'), 1000);
  assert.equal(await fetched('shaped', 10), 'configured');
  assert.equal(await store.ackUnconfigured('shaped', 'orders.legacy', 1n), 'configured');
  assert.equal(await store.ackFloor('shaped', 'orders.legacy'), 0n, 'nothing moved');
  await store.deleteConsumer('shaped');
  assert.deepEqual(await fetched('shaped', 1), { ackFloor: 0n, sequences: [1] }, 'deleted, it is an ordinary durable again');
});
