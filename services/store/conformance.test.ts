import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { collect, eventually, everything, forEachBackend, overrideObjects, payload } from '../testing/conformance-harness.js';
import { within } from '../testing/within.js';
import { payloadMissingHeader } from './read-messages.js';
import {
  AckBeyondEndError,
  MessageTooLargeError,
  ObjectMissingError,
  StoreUnavailableError,
  UploadExpiredError,
  carriedMessagesMax,
  type CarryRequest,
  type StoreChange,
  type StoredMessage,
} from './store.js';

const sequencesOf = (messages: StoredMessage[]) => messages.map((message) => message.sequence);
const subjectOf = (change: StoreChange) => ('subject' in change ? change.subject : '');
const oneTo = (count: number) => Array.from({ length: count }, (_, index) => BigInt(index + 1));

forEachBackend('sequences are gapless under concurrent publishes to one subject', async (_t, open) => {
  const { store } = await open();
  const sent = Array.from({ length: 100 }, (_, index) => payload(index % 5 === 0 ? 2048 : 16, index));
  const results = await Promise.all(sent.map((data) => store.publish([{ subject: 'orders', data, headers: {} }])));
  const sequences = results.map(([result]) => result!.sequence);
  assert.deepEqual(
    [...sequences].sort((a, b) => Number(a - b)),
    oneTo(100),
  );
  const read = await collect(store.read('orders', 0n, everything));
  assert.deepEqual(sequencesOf(read), oneTo(100));
  for (const [index, sequence] of sequences.entries()) {
    assert.deepEqual(new Uint8Array(read[Number(sequence) - 1]!.data), sent[index]);
  }
  assert.equal(await store.lastSequence('orders'), 100n);
});

forEachBackend('subjects count independently under interleaved publishes', async (_t, open) => {
  const { store } = await open();
  const subjects = ['a.one', 'a.two', 'b'];
  await Promise.all(
    Array.from({ length: 90 }, (_, index) => store.publish([{ subject: subjects[index % 3]!, data: payload(8, index), headers: {} }])),
  );
  for (const subject of subjects) {
    assert.deepEqual(sequencesOf(await collect(store.read(subject, 0n, everything))), oneTo(30));
  }
});

forEachBackend('a batch commits in input order, inline and object payloads mixed', async (_t, open) => {
  const { store } = await open();
  const batch = [
    { subject: 'x', data: payload(10, 1), headers: {} },
    { subject: 'y', data: payload(5000, 2), headers: {} },
    { subject: 'x', data: payload(4000, 3), headers: {} },
    { subject: 'y', data: payload(20, 4), headers: {} },
  ];
  const results = await store.publish(batch);
  assert.deepEqual(
    results.map((result) => result.sequence),
    [1n, 1n, 2n, 2n],
  );
  assert.deepEqual(
    results.map((result) => result.objectName === ''),
    [true, false, false, true],
  );
  assert.ok(results[1]!.objectName.startsWith('y/'));
  assert.notEqual(results[1]!.objectName, results[2]!.objectName);
  const x = await collect(store.read('x', 0n, everything));
  assert.deepEqual(
    x.map((message) => new Uint8Array(message.data)),
    [batch[0]!.data, batch[2]!.data],
  );
});

forEachBackend('empty data is a valid inline message', async (_t, open) => {
  const { store } = await open({ inlineMaxBytes: 0 });
  const [result] = await store.publish([{ subject: 'empty', data: new Uint8Array(0), headers: {} }]);
  assert.deepEqual(result, { sequence: 1n, objectName: '' });
  const [message] = await collect(store.read('empty', 0n, everything));
  assert.equal(message!.data.byteLength, 0);
  assert.equal(message!.headers['data-size'], '0');
});

forEachBackend('a 10 MiB payload round-trips', async (_t, open) => {
  const { store } = await open();
  const data = randomBytes(10 * 1024 * 1024);
  const [result] = await store.publish([{ subject: 'big', data, headers: {} }]);
  assert.notEqual(result!.objectName, '');
  const [message] = await collect(store.read('big', 0n, everything));
  assert.ok(Buffer.from(message!.data).equals(data));
  assert.equal(message!.headers['data-size'], String(10 * 1024 * 1024));
});

forEachBackend('all 256 byte values round-trip inline and via objects', async (_t, open) => {
  const { store } = await open({ inlineMaxBytes: 300 });
  const every = Uint8Array.from({ length: 256 }, (_, index) => index);
  const twice = Uint8Array.from({ length: 512 }, (_, index) => 255 - (index % 256));
  const results = await store.publish([
    { subject: 'bytes', data: every, headers: {} },
    { subject: 'bytes', data: twice, headers: {} },
  ]);
  assert.deepEqual(
    results.map((result) => result.objectName === ''),
    [true, false],
  );
  const read = await collect(store.read('bytes', 0n, everything));
  assert.deepEqual(
    read.map((message) => new Uint8Array(message.data)),
    [every, twice],
  );
});

forEachBackend('headers round-trip with data-size added', async (_t, open) => {
  const { store } = await open({ inlineMaxBytes: 100 });
  const headers = { 'content-type': 'application/json', 'x-trace': 'abc-123', 'x-empty': '' };
  await store.publish([
    { subject: 'h', data: payload(50), headers },
    { subject: 'h', data: payload(500), headers },
  ]);
  const read = await collect(store.read('h', 0n, everything));
  assert.deepEqual(read[0]!.headers, { ...headers, 'data-size': '50' });
  assert.deepEqual(read[1]!.headers, { ...headers, 'data-size': '500' });
});

forEachBackend('a message over maxMessageBytes is refused and nothing commits', async (_t, open) => {
  const { store } = await open({ maxMessageBytes: 1000 });
  await assert.rejects(
    store.publish([
      { subject: 'limit', data: payload(10), headers: {} },
      { subject: 'limit', data: payload(1001), headers: {} },
    ]),
    (error: unknown) => error instanceof MessageTooLargeError && /1001/.test(error.message) && /1000/.test(error.message),
  );
  assert.equal(await store.lastSequence('limit'), 0n);
  await store.publish([{ subject: 'limit', data: payload(1000), headers: {} }]);
  assert.equal(await store.lastSequence('limit'), 1n);
});

forEachBackend('timestamps are commit times in milliseconds', async (_t, open) => {
  const { store } = await open();
  const before = Date.now();
  await store.publish([{ subject: 'time', data: payload(4), headers: {} }]);
  const after = Date.now();
  const [message] = await collect(store.read('time', 0n, everything));
  assert.ok(Number.isInteger(message!.timestampMs));
  assert.ok(message!.timestampMs >= before && message!.timestampMs <= after);
});

forEachBackend('reads honour maxMessages, maxBytes and the starting point', async (t, open) => {
  for (const inlineMaxBytes of [1024, 50]) {
    await t.test(inlineMaxBytes > 100 ? 'inline' : 'objects', async () => {
      const { store } = await open({ inlineMaxBytes });
      for (let index = 0; index < 5; index += 1) {
        await store.publish([{ subject: 'limits', data: payload(100, index), headers: {} }]);
      }
      const read = (after: bigint, maxMessages: number, maxBytes: number) =>
        collect(store.read('limits', after, { maxMessages, maxBytes })).then(sequencesOf);
      assert.deepEqual(await read(0n, 3, 10_000), [1n, 2n, 3n]);
      assert.deepEqual(await read(0n, 10, 250), [1n, 2n]);
      assert.deepEqual(await read(0n, 10, 50), [1n], 'one message even when it exceeds maxBytes');
      assert.deepEqual(await read(3n, 10, 10_000), [4n, 5n]);
      assert.deepEqual(await read(5n, 10, 10_000), []);
      assert.deepEqual(await read(0n, 10, 10_000), oneTo(5));
    });
  }
});

forEachBackend('acks move the floor forward only and never past the end', async (_t, open) => {
  const { store } = await open();
  assert.equal(await store.ackFloor('worker', 'jobs'), 0n);
  await store.publish([1, 2, 3].map((seed) => ({ subject: 'jobs', data: payload(4, seed), headers: {} })));
  assert.equal(await store.ack('worker', 'jobs', 2n), 2n);
  assert.equal(await store.ack('worker', 'jobs', 1n), 2n, 'an older ack is a no-op');
  assert.equal(await store.ackFloor('worker', 'jobs'), 2n);
  await assert.rejects(
    store.ack('worker', 'jobs', 4n),
    (error: unknown) => error instanceof AckBeyondEndError && error.sequence === 4n && error.lastSequence === 3n,
  );
  await assert.rejects(store.ack('worker', 'unknown', 1n), AckBeyondEndError);
  assert.equal(await store.ackFloor('worker', 'jobs'), 2n);
  assert.equal(await store.ackFloor('other', 'jobs'), 0n, 'consumers are independent');
  assert.equal(await store.ack('worker', 'jobs', 3n), 3n);
});

forEachBackend('the first claim of a consumer owns it, per durable and subject', async (_t, open) => {
  const { store } = await open();
  assert.equal(await store.claimConsumer('worker', 'jobs', 'client-a'), true, 'first claim wins');
  assert.equal(await store.claimConsumer('worker', 'jobs', 'client-a'), true, 'the owner again');
  assert.equal(await store.claimConsumer('worker', 'jobs', 'client-b'), false, 'another owner is refused');
  assert.equal(await store.claimConsumer('worker', 'jobs', 'client-a'), true, 'a refused claim changes nothing');
  assert.equal(await store.claimConsumer('worker', 'other.jobs', 'client-b'), true, 'another subject is another consumer');
  assert.equal(await store.claimConsumer('helper', 'jobs', 'client-b'), true, 'another durable is another consumer');
  assert.equal(await store.claimConsumer('anon', 'jobs', ''), true, 'the empty owner is an owner like any other');
  assert.equal(await store.claimConsumer('anon', 'jobs', 'client-a'), false);
});

forEachBackend('concurrent first claims of one consumer have exactly one winner', async (_t, open) => {
  const { store } = await open();
  const owners = Array.from({ length: 20 }, (_, index) => `client-${index}`);
  const won = await Promise.all(owners.map((owner) => store.claimConsumer('race', 'jobs', owner)));
  const winners = owners.filter((_, index) => won[index]);
  assert.equal(winners.length, 1, `winners: ${winners.join(', ')}`);
  assert.equal(await store.claimConsumer('race', 'jobs', winners[0]!), true);
});

forEachBackend('lastSequence is 0 for an unknown subject', async (_t, open) => {
  const { store } = await open();
  assert.equal(await store.lastSequence('nobody.published.here'), 0n);
});

forEachBackend('waitForChanges reports commits and acks from one call, times out and honours abort', async (_t, open) => {
  const { store } = await open();
  const first = await store.waitForChanges('', 10_000);
  assert.equal(first.changes, 'resync', 'no cursor yet: resync at once');

  // A wait far longer than the test's bound: only the commit can end it in time.
  const waiting = store.waitForChanges(first.cursor, 3_600_000);
  await store.publish([
    { subject: 'wake.a', data: payload(4), headers: {} },
    { subject: 'wake.b', data: payload(4), headers: {} },
    { subject: 'wake.a', data: payload(4), headers: {} },
  ]);
  const commit = await within(waiting, 30_000, 'the wait to be woken by the commit');
  assert.deepEqual(
    commit.changes === 'resync' ? commit.changes : [...commit.changes].sort((x, y) => subjectOf(x).localeCompare(subjectOf(y))),
    [
      { subject: 'wake.a', lastSequence: 2n },
      { subject: 'wake.b', lastSequence: 1n },
    ],
  );

  await store.ack('reader', 'wake.a', 1n);
  await store.ack('reader', 'wake.a', 1n);
  const ack = await store.waitForChanges(commit.cursor, 10_000);
  assert.deepEqual(ack.changes, [{ subject: 'wake.a', durable: 'reader', ackFloor: 1n }], 'only an ack that moves the floor');

  const idle = await store.waitForChanges(ack.cursor, 50);
  assert.deepEqual(idle, { cursor: ack.cursor, changes: [] }, 'nothing after the timeout');
  assert.deepEqual(await store.lastSequences(['wake.a', 'nobody', 'wake.b']), [2n, 0n, 1n]);

  const controller = new AbortController();
  const aborted = store.waitForChanges(idle.cursor, 10_000, controller.signal);
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(aborted, { name: 'AbortError' });
});

forEachBackend(
  'waitForChanges carries inline commits of the subjects asked for within the byte budget, as readAfter reads them',
  async (_t, open) => {
    const { store, metadata } = await open({ inlineMaxBytes: 100 });
    const changesAfter = async (cursor: string, carry?: CarryRequest) => {
      const batch = await store.waitForChanges(cursor, 10_000, undefined, carry);
      assert.notEqual(batch.changes, 'resync');
      return { cursor: batch.cursor, changes: batch.changes as StoreChange[] };
    };
    // The change a commit of `subject` up to `last` is answered with, carrying what readAfter reads after `after`.
    const carrying = async (subject: string, last: bigint, after: bigint) => ({
      subject,
      lastSequence: last,
      carried: { after, rows: await metadata.readAfter(subject, after, 10) },
    });
    let { cursor } = await store.waitForChanges('', 0);

    await store.publish([
      { subject: 'carry.a', data: payload(10), headers: { kind: 'first' } },
      { subject: 'carry.b', data: payload(20), headers: {} },
      { subject: 'carry.a', data: payload(30), headers: {} },
    ]);
    const inline = await changesAfter(cursor, { bytes: 1000 });
    const sorted = [...inline.changes].sort((x, y) => subjectOf(x).localeCompare(subjectOf(y)));
    assert.deepEqual(sorted, [await carrying('carry.a', 2n, 0n), await carrying('carry.b', 1n, 0n)]);

    await store.publish([{ subject: 'carry.a', data: payload(200), headers: {} }]);
    const object = await changesAfter(inline.cursor, { bytes: 1000 });
    assert.deepEqual(object.changes, [{ subject: 'carry.a', lastSequence: 3n }], 'an object payload is never carried');

    await store.publish([
      { subject: 'carry.a', data: payload(60), headers: {} },
      { subject: 'carry.a', data: payload(60), headers: {} },
    ]);
    await store.publish([{ subject: 'carry.b', data: payload(50), headers: {} }]);
    const budget = await changesAfter(object.cursor, { bytes: 100 });
    assert.deepEqual(
      budget.changes,
      [{ subject: 'carry.a', lastSequence: 5n }, await carrying('carry.b', 2n, 1n)],
      'a commit that does not fit whole carries nothing; a later one that fits still does',
    );

    await store.publish([{ subject: 'carry.b', data: payload(5), headers: {} }]);
    await store.publish([{ subject: 'carry.a', data: payload(5), headers: {} }]);
    const named = await changesAfter(budget.cursor, { bytes: 1000, subjects: ['carry.a'] });
    assert.deepEqual(
      named.changes,
      [{ subject: 'carry.b', lastSequence: 3n }, await carrying('carry.a', 6n, 5n)],
      'only the subjects named',
    );

    const many = carriedMessagesMax + 1;
    await store.publish(Array.from({ length: many }, () => ({ subject: 'carry.b', data: payload(1), headers: {} })));
    const large = await changesAfter(named.cursor, { bytes: 1024 * 1024 });
    assert.deepEqual(large.changes, [{ subject: 'carry.b', lastSequence: 3n + BigInt(many) }], `a commit of ${many} messages carries none`);

    await store.publish([{ subject: 'carry.b', data: payload(5), headers: {} }]);
    cursor = large.cursor;
    assert.deepEqual(
      (await changesAfter(cursor)).changes,
      [{ subject: 'carry.b', lastSequence: 4n + BigInt(many) }],
      'nothing is carried unless asked',
    );
  },
);

forEachBackend('a slow upload never leaves a sequence behind an acked position', async (_t, open) => {
  let uploadStarted!: () => void;
  const started = new Promise<void>((resolve) => (uploadStarted = resolve));
  let releaseUpload!: () => void;
  const released = new Promise<void>((resolve) => (releaseUpload = resolve));
  const { store } = await open({
    wrapObjects: (inner) =>
      overrideObjects(inner, {
        put: async (key, data, contentType, signal) => {
          uploadStarted();
          await released;
          await inner.put(key, data, contentType, signal);
        },
      }),
  });
  const big = store.publish([{ subject: 'race', data: payload(5000), headers: {} }]);
  await started;
  const [small] = await store.publish([{ subject: 'race', data: payload(10), headers: {} }]);
  assert.equal(small!.sequence, 1n);
  assert.equal(await store.ack('consumer', 'race', 1n), 1n);
  releaseUpload();
  const [large] = await big;
  assert.equal(large!.sequence, 2n);
  const pending = await collect(store.read('race', await store.ackFloor('consumer', 'race'), everything));
  assert.deepEqual(sequencesOf(pending), [2n], 'the slow message is still delivered after the ack');
  assert.equal(pending[0]!.data.byteLength, 5000);
});

forEachBackend('a failing object store fails only large publishes and leaves no dangling metadata', async (_t, open) => {
  const { store, metadata } = await open({
    wrapObjects: (inner) =>
      overrideObjects(inner, {
        put: async () => {
          throw new StoreUnavailableError('object store is down');
        },
      }),
  });
  await assert.rejects(store.publish([{ subject: 'down', data: payload(5000), headers: {} }]), StoreUnavailableError);
  await assert.rejects(
    store.publish([
      { subject: 'down', data: payload(10), headers: {} },
      { subject: 'down', data: payload(5000), headers: {} },
    ]),
    StoreUnavailableError,
  );
  const [inline] = await store.publish([{ subject: 'down', data: payload(10), headers: {} }]);
  assert.equal(inline!.sequence, 1n);
  const read = await collect(store.read('down', 0n, everything));
  assert.deepEqual(sequencesOf(read), [1n]);
  assert.equal(read[0]!.headers[payloadMissingHeader], undefined);
  assert.deepEqual(await metadata.listStalePendingUploads(Date.now() + 60_000, 10), [], 'failed uploads are discarded');
});

forEachBackend('the orphan sweep removes uncommitted uploads', async (_t, open) => {
  const { metadata, objects } = await open({ sweepIntervalMs: 20, orphanGraceMs: 60_000 });
  const key = 'orphans/000000000000-abandoned';
  // Stored before it is registered: the sweep must not delete it while the put is still writing.
  await objects.put(key, payload(5000), 'application/octet-stream');
  await metadata.addPendingUpload(key, Date.now() - 120_000);
  await eventually(() =>
    objects.get(key).then(
      () => false,
      (error) => error instanceof ObjectMissingError,
    ),
  );
  await eventually(async () => (await metadata.listStalePendingUploads(Date.now(), 10)).length === 0);
  const record = { subject: 'orphans', timestampMs: Date.now(), headers: {}, size: 5000, inline: null, objectKey: key };
  await assert.rejects(metadata.commit([record]), UploadExpiredError);
  assert.equal(await metadata.lastSequence('orphans'), 0n);
});

forEachBackend('an upload slower than half the grace period is not committed', async (_t, open) => {
  const uploaded: string[] = [];
  const { store, objects, metadata } = await open({
    orphanGraceMs: 100,
    wrapObjects: (inner) =>
      overrideObjects(inner, {
        put: async (key, data, contentType, signal) => {
          await new Promise((resolve) => setTimeout(resolve, 80));
          await inner.put(key, data, contentType, signal);
          uploaded.push(key);
        },
      }),
  });
  await assert.rejects(store.publish([{ subject: 'slow', data: payload(5000), headers: {} }]), UploadExpiredError);
  assert.equal(await store.lastSequence('slow'), 0n);
  assert.equal(uploaded.length, 1);
  await assert.rejects(objects.get(uploaded[0]!), ObjectMissingError);
  assert.deepEqual(await metadata.listStalePendingUploads(Date.now() + 60_000, 10), []);
});

forEachBackend('a missing payload object is delivered empty with a marker header', async (_t, open) => {
  const { store, objects } = await open();
  const [result] = await store.publish([{ subject: 'lost', data: payload(5000), headers: {} }]);
  await store.publish([{ subject: 'lost', data: payload(5), headers: {} }]);
  await objects.remove(result!.objectName);
  const read = await collect(store.read('lost', 0n, everything));
  assert.deepEqual(sequencesOf(read), [1n, 2n], 'the consumer is not stuck');
  assert.equal(read[0]!.data.byteLength, 0);
  assert.equal(read[0]!.headers[payloadMissingHeader], result!.objectName);
});

forEachBackend('payloads are fetched with bounded parallelism and yielded in order', async (_t, open) => {
  let inFlight = 0;
  let peak = 0;
  let calls = 0;
  const { store } = await open({
    inlineMaxBytes: 0,
    fetchParallelism: 3,
    wrapObjects: (inner) =>
      overrideObjects(inner, {
        get: async (key, signal) => {
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          // Later keys answer sooner, so arrival order differs from sequence order.
          calls += 1;
          await new Promise((resolve) => setTimeout(resolve, calls % 3 === 1 ? 30 : 5));
          try {
            return await inner.get(key, signal);
          } finally {
            inFlight -= 1;
          }
        },
      }),
  });
  for (let index = 0; index < 12; index += 1) {
    await store.publish([{ subject: 'fan', data: payload(64, index), headers: {} }]);
  }
  const read = await collect(store.read('fan', 0n, everything));
  assert.deepEqual(sequencesOf(read), oneTo(12));
  assert.deepEqual(
    read.map((message) => new Uint8Array(message.data)),
    oneTo(12).map((_, index) => payload(64, index)),
  );
  assert.ok(peak <= 3 && peak >= 2, `peak concurrent fetches ${peak}`);
});

forEachBackend('a read stops promptly when aborted', async (_t, open) => {
  const { store } = await open();
  for (let index = 0; index < 5; index += 1) {
    await store.publish([{ subject: 'abort', data: payload(2000, index), headers: {} }]);
  }
  const controller = new AbortController();
  const seen: bigint[] = [];
  await assert.rejects(
    async () => {
      for await (const message of store.read('abort', 0n, everything, controller.signal)) {
        seen.push(message.sequence);
        controller.abort();
      }
    },
    { name: 'AbortError' },
  );
  assert.deepEqual(seen, [1n]);
});

forEachBackend('health reports both halves', async (_t, open) => {
  const { store } = await open();
  const statuses = await store.checkHealth();
  assert.equal(statuses.length, 2);
  assert.ok(
    statuses.every((status) => status.ok && status.detail === 'ok'),
    JSON.stringify(statuses),
  );
});

forEachBackend('inspection: subject counters, consumer positions and reset, without reading messages', async (_t, open) => {
  const { store } = await open();
  const prefix = `insp${randomBytes(4).toString('hex')}`;
  const [a, b] = [`${prefix}.a`, `${prefix}.b`];
  const before = Date.now();
  // One payload above inlineMaxBytes (1024): counters include object-stored bytes.
  await store.publish([
    { subject: a, data: payload(10), headers: {} },
    { subject: b, data: payload(3), headers: {} },
    { subject: a, data: payload(2000), headers: {} },
  ]);
  const mine = (await store.listSubjects()).filter((stats) => stats.subject.startsWith(`${prefix}.`));
  assert.deepEqual(
    mine.map(({ lastPublishMs, ...rest }) => rest),
    [
      { subject: a, messages: 2n, bytes: 2010n, firstSequence: 1n, lastSequence: 2n },
      { subject: b, messages: 1n, bytes: 3n, firstSequence: 1n, lastSequence: 1n },
    ],
  );
  assert.ok(mine[0]!.lastPublishMs! >= before - 1000 && mine[0]!.lastPublishMs! <= Date.now() + 1000);
  assert.deepEqual(await store.subjectStats(b), mine[1]);
  assert.equal(await store.subjectStats(`${prefix}.none`), undefined);

  await store.ack('reader', a, 2n);
  await store.ack('reader', b, 1n);
  await store.ack('other', a, 1n);
  assert.deepEqual(await store.listConsumers(a), [
    { durable: 'other', subject: a, ackFloor: 1n, lastSequence: 2n },
    { durable: 'reader', subject: a, ackFloor: 2n, lastSequence: 2n },
  ]);
  const all = (await store.listConsumers(undefined)).filter((consumer) => consumer.subject.startsWith(`${prefix}.`));
  assert.equal(all.length, 3);
  assert.deepEqual(await store.consumerPosition('reader', b), { durable: 'reader', subject: b, ackFloor: 1n, lastSequence: 1n });
  assert.equal(await store.consumerPosition('nobody', a), undefined);

  assert.deepEqual(await store.resetConsumer('reader', a, 0n), { durable: 'reader', subject: a, ackFloor: 0n, lastSequence: 2n });
  assert.equal(await store.ackFloor('reader', a), 0n);
  assert.equal(sequencesOf(await collect(store.read(a, await store.ackFloor('reader', a), everything))).length, 2);
  await assert.rejects(store.resetConsumer('reader', a, 3n), AckBeyondEndError);
});
