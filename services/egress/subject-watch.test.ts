import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { openSqliteMetadataStore } from '../store/embedded/sqlite-metadata-store.js';
import type { MetadataRecord, MetadataStore } from '../store/store.js';
import { eventually } from '../testing/conformance-harness.js';
import { countWaits, type WaitCounter } from '../testing/wrapped-backend.js';
import { consumerConfig } from '../testing/configured-consumer.js';
import { createSubjectWatch, type Watch } from './subject-watch.js';

const record = (subject: string): MetadataRecord => ({
  subject,
  timestampMs: Date.now(),
  headers: {},
  size: 1,
  inline: Uint8Array.of(1),
  objectKey: '',
});

async function openStores(t: TestContext, count: number): Promise<MetadataStore[]> {
  const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-watch-'));
  const stores = await Promise.all(Array.from({ length: count }, () => openSqliteMetadataStore({ file: join(dir, 'metadata.sqlite') })));
  t.after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await rm(dir, { recursive: true, force: true });
  });
  return stores;
}

/** The next value of `iterator`, failing the test if none comes within `ms` (a hang guard, not a timing check). */
async function next<T>(iterator: AsyncIterator<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no value within ${ms} ms`)), ms)));
  try {
    const result = await Promise.race([iterator.next(), hung]);
    assert.equal(result.done, false);
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

test('every watched subject shares one waiting store call, and a commit wakes its follower', async (t) => {
  const [metadata] = await openStores(t, 1);
  const waits: WaitCounter = { started: 0, inFlight: 0 };
  const store = countWaits(metadata!, waits);
  const watch = createSubjectWatch({ store, logger: pino({ level: 'silent' }), waitTimeoutMs: 300 });
  await store.commit([record('watch.0'), record('watch.0')]);

  const watches = Array.from({ length: 2000 }, (_, index) => watch.watch(`watch.${index}`));
  const gone = new AbortController();
  const [ahead, idle] = [watch.follow('watch.0', 0n, gone.signal), watch.follow('watch.1234', 0n, gone.signal)];
  assert.equal(await next(ahead), 2n, 'a subject already ahead is reported at once');
  const woken = next(idle);
  await eventually(async () => waits.inFlight === 1);
  await store.commit([record('watch.1234')]);
  assert.equal(await woken, 1n, 'the commit reached the follower of its subject');
  assert.equal(watch.watchedSubjects, 2000);
  assert.ok(waits.inFlight <= 1, `${waits.inFlight} waiting calls for 2000 subjects`);

  gone.abort();
  await Promise.all([ahead.return(undefined), idle.return(undefined)]);
  watches.forEach((watched) => watched.close());
  assert.equal(watch.watchedSubjects, 0, 'subjects are forgotten when their last watch closes');
  await eventually(async () => waits.inFlight === 0, 2000);
  const startedWhenIdle = waits.started;
  await store.commit([record('watch.0')]);
  assert.equal(waits.started, startedWhenIdle, 'nothing waits while nothing is watched');
});

test('a write by another process on the same file reaches followers through a resync', async (t) => {
  const [egressSide, otherProcess] = await openStores(t, 2);
  const watch = createSubjectWatch({ store: egressSide!, logger: pino({ level: 'silent' }) });
  const gone = new AbortController();
  t.after(() => gone.abort());
  const follower = watch.follow('shared.subject', 0n, gone.signal);
  const woken = next(follower);
  await otherProcess!.commit([record('shared.subject')]);
  assert.equal(await woken, 1n);
  const durable = watch.watch('shared.subject', 'reader');
  t.after(() => durable.close());
  durable.takeResync();
  await otherProcess!.ack('reader', 'shared.subject', 1n);
  await durable.changed(gone.signal, 10_000);
  assert.equal(durable.takeResync(), true, 'an ack elsewhere asks the stream to re-read its floor');
});

test('an ack through the same store reaches the watch of its durable only', async (t) => {
  const [store] = await openStores(t, 1);
  const watch = createSubjectWatch({ store: store!, logger: pino({ level: 'silent' }) });
  await store!.commit([record('jobs'), record('jobs')]);
  const mine = watch.watch('jobs', 'mine');
  const theirs = watch.watch('jobs', 'theirs');
  t.after(() => [mine, theirs].forEach((watched) => watched.close()));
  const never = new AbortController().signal;
  await eventually(async () => mine.lastSequence === 2n);
  // Settle what opening reported: the first answer of the feed is a resync.
  for (const watched of [mine, theirs]) {
    watched.takeResync();
    while (await watched.changed(never, 0));
  }
  await store!.ack('mine', 'jobs', 2n);
  assert.equal(await mine.changed(never, 10_000), true);
  assert.equal(mine.ackFloor, 2n);
  assert.equal(theirs.ackFloor, 0n);
  assert.equal(mine.takeResync() || theirs.takeResync(), false, 'the feed said exactly what changed');
});

test('carried messages are kept for Consume watches only, appended while they go on, and within carriedBytesMax', async (t) => {
  const [store] = await openStores(t, 1);
  // Each record is 1 byte: three fit.
  const watch = createSubjectWatch({ store: store!, logger: pino({ level: 'silent' }), carriedBytesMax: 3 });
  const [a, b] = ['kept.a', 'kept.b'].map((subject) => watch.watch(subject, 'reader')) as [Watch, Watch];
  const follower = watch.watch('kept.c');
  t.after(() => [a, b, follower].forEach((watched) => watched.close()));
  await eventually(async () => [a, b, follower].every((watched) => watched.lastSequence === 0n));
  const all = { maxMessages: 100, maxBytes: 1024 };
  const sequences = (watched: Watch, after: bigint, limits = all) => watched.carried(after, limits)?.map((row) => row.sequence);

  await store!.commit([record('kept.a'), record('kept.a')]);
  await store!.commit([record('kept.c')]);
  await eventually(async () => a.lastSequence === 2n && follower.lastSequence === 1n);
  assert.deepEqual(sequences(a, 0n), [1n, 2n]);
  assert.deepEqual(sequences(a, 1n), [2n], 'from any point of what it holds');
  assert.deepEqual(sequences(a, 0n, { maxMessages: 1, maxBytes: 1024 }), [1n], 'within the limits');
  assert.equal(sequences(a, 2n), undefined, 'nothing past what it holds');
  assert.equal(sequences(follower, 0n), undefined, 'a watch without a durable keeps nothing');

  await store!.commit([record('kept.a')]);
  await eventually(async () => a.lastSequence === 3n);
  assert.deepEqual(sequences(a, 0n), [1n, 2n, 3n], 'a commit that goes on is appended');
  await store!.commit([record('kept.b')]);
  await eventually(async () => b.lastSequence === 1n);
  assert.deepEqual(sequences(b, 0n), [1n]);
  assert.equal(sequences(a, 0n), undefined, "past carriedBytesMax the oldest subject's go");
});

test('a consumer watch hears commits of the subjects it matches, known or new, and nothing else', async (t) => {
  const [store] = await openStores(t, 1);
  const watch = createSubjectWatch({ store: store!, logger: pino({ level: 'silent' }) });
  const orders = watch.watchConsumer('workers', (subject) => subject.startsWith('orders.'));
  t.after(() => orders.close());
  assert.deepEqual([watch.consumerStreams('workers'), watch.consumerStreams('others')], [1, 0]);
  const never = new AbortController().signal;
  // The feed's first answer is a resync: the stream lists the subjects itself.
  assert.equal(await orders.changed(never, 10_000), true);
  assert.equal(orders.takeResync(), true);
  const heard = new Set<string>();
  const hear = async (subject: string) => {
    await eventually(async () => {
      await orders.changed(never, 1000);
      orders.takeCommitted().forEach((committed) => heard.add(committed));
      return heard.has(subject);
    }, 10_000);
  };
  await store!.commit([record('other.x')]);
  await store!.commit([record('orders.eu.a'), record('orders.us.b')]);
  await hear('orders.us.b');
  await store!.commit([record('orders.eu.a')]);
  heard.clear();
  await hear('orders.eu.a');
  assert.deepEqual([...heard], ['orders.eu.a'], 'a known subject is reported again on its next commit');
  await store!.commit([record('other.x'), record('orders.new')]);
  await hear('orders.new');
  assert.ok(!heard.has('other.x'), 'a subject the consumer does not match is never reported');
  assert.equal(orders.takeResync(), false);
  orders.close();
  assert.equal(watch.consumerStreams('workers'), 0, 'a closed stream is not counted');
});

test("a settlement wakes the watches of its consumer only, through the store's change feed", async (t) => {
  const [store] = await openStores(t, 1);
  const watch = createSubjectWatch({ store: store!, logger: pino({ level: 'silent' }) });
  await store!.createConsumer(consumerConfig('workers', ['jobs']), Date.now());
  await store!.startConsumerSubjects('workers', [{ subject: 'jobs', startAfter: 0n }]);
  const mine = watch.watchConsumer('workers', (subject) => subject === 'jobs');
  const theirs = watch.watchConsumer('others', (subject) => subject === 'other');
  t.after(() => [mine, theirs].forEach((watched) => watched.close()));
  const never = new AbortController().signal;
  await store!.commit([record('jobs')]);
  await eventually(async () => {
    await mine.changed(never, 1000);
    return mine.takeCommitted().includes('jobs');
  }, 10_000);
  const [leased] = (await store!.lease('workers', ['jobs'], { maxMessages: 10, maxBytes: 1024 }, Date.now())).rows;
  // Settle what the feed reported so far.
  for (const watched of [mine, theirs]) {
    watched.takeResync();
    while (await watched.changed(never, 0));
  }
  const settlement = { subject: 'jobs', sequence: leased!.sequence, kind: 'ack', delayMs: 0, deliveryCount: undefined } as const;
  assert.deepEqual(await store!.settle('workers', [settlement], Date.now()), ['applied']);
  assert.equal(await mine.changed(never, 10_000), true, 'the ack freed room: the stream looks again');
  assert.deepEqual(mine.takeCommitted(), [], 'a settlement is no commit');
  assert.equal(await theirs.changed(never, 0), false, "another consumer's stream sleeps on");
});
