import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from '@connectrpc/connect';
import { AckKind, AckOutcome } from '../../gen/minitoolstream/egress_pb.js';
import { deadLetterHeaders, deliveryCountHeader } from '../store/consumers.js';
import type { MessageStore } from '../store/store.js';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { collect, eventually, payload } from '../testing/conformance-harness.js';
import { consumerConfig, messageKey, openWorker, type Delivery, type Worker } from '../testing/configured-consumer.js';
import { consume } from '../testing/consume.js';
import { testBackends } from '../testing/store-backends.js';
import { egressClient, startTestServices, type Protocol } from '../testing/test-services.js';
import { createEgressService } from './connect.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];
// Short, so a stream with nothing to send proves it with an empty frame instead of a fixed sleep.
const heartbeatMs = 200;
// Long enough that only the act under test (a nak, a backoff entry) can redeliver within the test's bounds.
const noRedelivery = 120_000;
// A backoff lease is measured from the lease, which happened before its frame arrived: allow that frame's trip.
const frameTripMs = 100;

const unlimited = { maxMessages: 10_000, maxBytes: 1024 ** 3 };
const sequences = (deliveries: Delivery[]) => deliveries.map((delivery) => delivery.sequence);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => BigInt(from + index));

async function publish(store: MessageStore, subject: string, count: number, headers: Record<string, string> = {}) {
  const batch = Array.from({ length: count }, (_, index) => ({ subject, data: payload(8, index), headers }));
  return store.publish(batch);
}

/** Frames until one is not empty; heartbeats in between are fine. */
async function nextDelivered(worker: Worker): Promise<Delivery[]> {
  for (;;) {
    const frame = await worker.frame();
    if (frame.length > 0) return frame;
  }
}

/** Only heartbeats for `ms`: nothing is (re)delivered in that time. */
async function onlyHeartbeats(worker: Worker, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) assert.deepEqual(await worker.frame(), [], 'nothing is delivered');
}

const ack = (subject: string, sequence: bigint, kind = AckKind.ACK, fields: { delayMs?: bigint; deliveryCount?: number } = {}) => ({
  subject,
  sequence,
  kind,
  ...fields,
});

for (const backend of testBackends) {
  test(`configured consumers on ${backend.name}: delivery, acks, redelivery, dead letters, filters, deliver policies`, async (t) => {
    const services = await startTestServices(t, { backend, egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
    const { store } = services;
    const create = (config: Parameters<typeof consumerConfig>, nowMs = Date.now()) =>
      store.createConsumer(consumerConfig(...config), nowMs);

    for (const protocol of protocols) {
      const egress = egressClient(services, protocol);
      await t.test(`${protocol}: delivers each message once with its delivery count; AckMessages settles item by item`, async (t) => {
        const subject = `basic.${protocol}`;
        await create([`basic-${protocol}`, [subject]]);
        await publish(store, subject, 5, { trace: 'x' });
        const worker = openWorker(t, egress, `basic-${protocol}`, { maxBatch: 2 });
        const first = await worker.deliveries(5);
        assert.deepEqual(sequences(first), range(1, 5));
        assert.ok(first.every((delivery) => delivery.deliveryCount === 1 && delivery.headers['trace'] === 'x'));
        assert.ok(first.every((delivery) => delivery.subject === subject));

        const settled = await egress.ackMessages({
          durableName: `basic-${protocol}`,
          acks: [1n, 2n, 3n, 1n].map((sequence) => ack(subject, sequence)),
        });
        assert.deepEqual(settled.outcomes, [AckOutcome.APPLIED, AckOutcome.APPLIED, AckOutcome.APPLIED, AckOutcome.NOT_PENDING]);
        const stats = await store.consumerStats(`basic-${protocol}`);
        assert.equal(stats?.ackPending, 2);
        assert.equal(stats?.positions[0]?.ackFloor, 3n);

        await publish(store, subject, 2);
        assert.deepEqual(sequences(await worker.deliveries(2)), range(6, 7), 'a commit wakes the open stream');
        await assert.rejects(
          egress
            .consume({ subject, durableName: `basic-${protocol}` })
            [Symbol.asyncIterator]()
            .next(),
          { code: Code.InvalidArgument },
        );
      });
    }

    await t.test('nak with a delay redelivers after the delay; nak without one at once', async (t) => {
      const egress = egressClient(services, 'grpcweb');
      await create(['nak', ['nak.x'], { ackWaitMs: noRedelivery }]);
      await publish(store, 'nak.x', 1);
      const worker = openWorker(t, egress, 'nak');
      assert.deepEqual(sequences(await worker.deliveries(1)), [1n]);
      const nakAt = Date.now();
      const naked = await egress.ackMessages({
        durableName: 'nak',
        acks: [ack('nak.x', 1n, AckKind.NAK, { delayMs: 500n, deliveryCount: 1 })],
      });
      assert.deepEqual(naked.outcomes, [AckOutcome.APPLIED]);
      const [again] = await nextDelivered(worker);
      assert.equal(again?.deliveryCount, 2);
      assert.ok(Date.now() - nakAt >= 500, `redelivered ${Date.now() - nakAt} ms after a nak of 500 ms`);
      const stale = await egress.ackMessages({ durableName: 'nak', acks: [ack('nak.x', 1n, AckKind.NAK, { deliveryCount: 1 })] });
      assert.deepEqual(stale.outcomes, [AckOutcome.STALE], 'a nak of the first delivery after the second changes nothing');
      await egress.ackMessages({ durableName: 'nak', acks: [ack('nak.x', 1n, AckKind.NAK, { deliveryCount: 2 })] });
      assert.deepEqual(
        (await nextDelivered(worker)).map((delivery) => delivery.deliveryCount),
        [3],
      );
    });

    await t.test('in-progress restarts the lease from the moment it is sent', async (t) => {
      const egress = egressClient(services, 'connect');
      const ackWaitMs = 800;
      await create(['progress', ['progress.x'], { ackWaitMs }]);
      await publish(store, 'progress.x', 1);
      const worker = openWorker(t, egress, 'progress');
      await worker.deliveries(1);
      // Half the lease later: without the extension the message would come back 400 ms from now.
      await new Promise((resolve) => setTimeout(resolve, ackWaitMs / 2));
      const progressAt = Date.now();
      const extended = await egress.ackMessages({ durableName: 'progress', acks: [ack('progress.x', 1n, AckKind.IN_PROGRESS)] });
      assert.deepEqual(extended.outcomes, [AckOutcome.APPLIED]);
      const [again] = await nextDelivered(worker);
      assert.equal(again?.deliveryCount, 2);
      assert.ok(Date.now() - progressAt >= ackWaitMs, `redelivered ${Date.now() - progressAt} ms after the in-progress`);
    });

    await t.test('term stops redelivery and dead-letters the message with reason term', async (t) => {
      const egress = egressClient(services, 'grpc');
      await create(['term', ['term.x'], { ackWaitMs: 300, deadLetterSubject: 'dead.term' }]);
      await publish(store, 'term.x', 2);
      const worker = openWorker(t, egress, 'term');
      await worker.deliveries(2);
      const termed = await egress.ackMessages({
        durableName: 'term',
        acks: [ack('term.x', 1n, AckKind.TERM, { deliveryCount: 1 }), ack('term.x', 2n)],
      });
      assert.deepEqual(termed.outcomes, [AckOutcome.APPLIED, AckOutcome.APPLIED]);
      await onlyHeartbeats(worker, 1000);
      const [dead] = await collect(store.read('dead.term', 0n, unlimited));
      assert.equal(dead?.headers[deadLetterHeaders.reason], 'term');
      assert.equal((await store.consumerStats('term'))?.ackPending, 0);
    });

    await t.test(
      'backoff sets each lease; past max_deliver the message lands once in the dead-letter subject and redrive brings it back',
      async (t) => {
        const egress = egressClient(services, 'grpcweb');
        const backoffMs = [300, 700];
        await create(['backoff', ['backoff.x'], { ackWaitMs: noRedelivery, backoffMs, maxDeliver: 3, deadLetterSubject: 'dead.backoff' }]);
        const [published] = await publish(store, 'backoff.x', 1, { origin: 'test' });
        const worker = openWorker(t, egress, 'backoff');
        const received = [(await nextDelivered(worker))[0]!, (await nextDelivered(worker))[0]!, (await nextDelivered(worker))[0]!];
        assert.deepEqual(
          received.map((delivery) => delivery.deliveryCount),
          [1, 2, 3],
        );
        // Lease n lasts backoff[n-1], the last entry for later ones; the ack wait never counts.
        const gaps = [received[1]!.receivedAt - received[0]!.receivedAt, received[2]!.receivedAt - received[1]!.receivedAt];
        assert.ok(
          gaps[0]! >= backoffMs[0]! - frameTripMs && gaps[1]! >= backoffMs[1]! - frameTripMs,
          `gaps ${gaps} for backoff ${backoffMs}`,
        );
        await eventually(async () => (await store.lastSequence('dead.backoff')) === 1n, 10_000);
        await onlyHeartbeats(worker, 1000);
        assert.equal(await store.lastSequence('dead.backoff'), 1n, 'dead-lettered once');
        const [dead] = await collect(store.read('dead.backoff', 0n, unlimited));
        assert.deepEqual(
          [
            dead?.headers[deadLetterHeaders.subject],
            dead?.headers[deadLetterHeaders.sequence],
            dead?.headers[deadLetterHeaders.consumer],
            dead?.headers[deadLetterHeaders.reason],
            dead?.headers[deliveryCountHeader],
            dead?.headers['origin'],
          ],
          ['backoff.x', published!.sequence.toString(), 'backoff', 'max_deliver', '3', 'test'],
        );
        assertSameBytes(dead!.data, payload(8, 0), 'the dead letter keeps the payload');
        const stats = await store.consumerStats('backoff');
        assert.deepEqual([stats?.ackPending, stats?.deadLettered, stats?.positions[0]?.ackFloor], [0, 1n, 1n], 'out of the pending set');

        assert.deepEqual(await store.redrive('dead.backoff', 0n, 0n, 100), { moved: 1, lastExamined: 1n });
        const [back] = await nextDelivered(worker);
        assert.deepEqual([back?.subject, back?.sequence, back?.deliveryCount, back?.headers['origin']], ['backoff.x', 2n, 1, 'test']);
        assert.equal(back?.headers[deadLetterHeaders.reason], undefined);
      },
    );

    await t.test('orders.* and orders.> deliver exactly the subjects they match, new ones included', async (t) => {
      const egress = egressClient(services, 'connect');
      await create(['one-token', ['orders.*']]);
      await create(['all-below', ['orders.>']]);
      for (const subject of ['orders', 'orders.eu', 'orders.us', 'orders.eu.x', 'ordersx.eu', 'other.eu']) await publish(store, subject, 2);
      const oneToken = openWorker(t, egress, 'one-token');
      const allBelow = openWorker(t, egress, 'all-below');
      const keys = async (worker: Worker, count: number) => (await worker.deliveries(count)).map(messageKey).sort();
      assert.deepEqual(await keys(oneToken, 4), ['orders.eu:1', 'orders.eu:2', 'orders.us:1', 'orders.us:2']);
      assert.deepEqual(await keys(allBelow, 6), [
        'orders.eu.x:1',
        'orders.eu.x:2',
        'orders.eu:1',
        'orders.eu:2',
        'orders.us:1',
        'orders.us:2',
      ]);
      // A subject first published while the streams are open is found through the change feed.
      await publish(store, 'orders.asia', 1);
      await publish(store, 'orders.asia.y', 1);
      assert.deepEqual(await keys(oneToken, 1), ['orders.asia:1']);
      assert.deepEqual(await keys(allBelow, 2), ['orders.asia.y:1', 'orders.asia:1']);
      await onlyHeartbeats(oneToken, 500);
    });

    await t.test('an update of the filters reaches an open stream within a heartbeat', async (t) => {
      const egress = egressClient(services, 'grpcweb');
      const config = consumerConfig('moving', ['move.a'], { ackWaitMs: noRedelivery });
      await store.createConsumer(config, Date.now());
      await publish(store, 'move.a', 1);
      await publish(store, 'move.b', 1);
      const worker = openWorker(t, egress, 'moving');
      assert.deepEqual((await worker.deliveries(1)).map(messageKey), ['move.a:1']);
      await store.updateConsumer({ ...config, filterSubjects: ['move.b'] });
      assert.deepEqual((await nextDelivered(worker)).map(messageKey), ['move.b:1'], 'a subject the new filter matches');
      await publish(store, 'move.a', 1);
      await onlyHeartbeats(worker, 3 * heartbeatMs);
    });

    await t.test('deliver policies start each subject where they say', async (t) => {
      const egress = egressClient(services, 'grpc');
      const subject = 'policy.x';
      const [, second] = await publish(store, subject, 2);
      const [secondStored] = await collect(store.read(subject, second!.sequence - 1n, { maxMessages: 1, maxBytes: 1024 }));
      // The next commit is later than the second, so a start time of the third's commit excludes the second.
      await eventually(async () => Date.now() > secondStored!.timestampMs, 1000);
      await publish(store, subject, 3);
      const [fromThird] = await collect(store.read(subject, 2n, { maxMessages: 1, maxBytes: 1024 }));
      const [lastBefore] = await collect(store.read(subject, 4n, { maxMessages: 1, maxBytes: 1024 }));
      // Created after the last commit's time, so `new` cannot take it for one committed after creation.
      const createdMs = Math.max(Date.now(), lastBefore!.timestampMs + 1);
      const policies = {
        all: { kind: 'all' },
        new: { kind: 'new' },
        last: { kind: 'last' },
        sequence: { kind: 'sequence', sequence: 3n },
        time: { kind: 'time', timeMs: fromThird!.timestampMs },
      } as const;
      for (const [name, deliver] of Object.entries(policies)) await create([`policy-${name}`, [subject], { deliver }], createdMs);
      await eventually(async () => Date.now() > createdMs, 1000);
      await publish(store, subject, 2);
      const expected = { all: range(1, 7), new: range(6, 7), last: range(5, 7), sequence: range(3, 7) };
      for (const [name, wanted] of Object.entries(expected)) {
        const worker = openWorker(t, egress, `policy-${name}`);
        assert.deepEqual(sequences(await worker.deliveries(wanted.length)), wanted, name);
      }
      const byTime = openWorker(t, egress, 'policy-time');
      assert.deepEqual(sequences(await byTime.deliveries(5)), range(3, 7), 'time: from the first message committed at or after it');
    });

    await t.test('the original RPCs on a configured durable: AckMessage settles, Fetch is refused, Subscribe is unchanged', async (t) => {
      const egress = egressClient(services, 'grpc');
      await create(['cumulative', ['legacy.x'], { ackPolicy: 'all', ackWaitMs: noRedelivery }]);
      await create(['single', ['legacy.x'], { ackWaitMs: noRedelivery }]);
      await publish(store, 'legacy.x', 5);
      for (const durableName of ['cumulative', 'single']) await openWorker(t, egress, durableName).deliveries(5);
      assert.deepEqual(await egress.ackMessage({ durableName: 'cumulative', subject: 'legacy.x', sequence: 3n }), {
        $typeName: 'minitoolstream.AckResponse',
        success: true,
        errorMessage: '',
      });
      assert.equal((await store.consumerStats('cumulative'))?.ackPending, 2, 'ack policy all: 1 to 3 settled');
      assert.equal((await egress.ackMessage({ durableName: 'single', subject: 'legacy.x', sequence: 3n })).success, true);
      assert.equal((await store.consumerStats('single'))?.ackPending, 4, 'explicit: only 3 settled');
      assert.equal((await egress.ackMessage({ durableName: 'single', subject: 'legacy.x', sequence: 3n })).success, false, 'not pending');
      await assert.rejects(collect(egress.fetch({ durableName: 'single', subject: 'legacy.x' })), {
        code: Code.FailedPrecondition,
        rawMessage: 'consumer single is configured: use Consume',
      });
      const subscription = egress.subscribe({ durableName: 'single', subject: 'legacy.x', startSequence: 1n })[Symbol.asyncIterator]();
      assert.equal((await subscription.next()).value?.sequence, 5n);
      await subscription.return?.(undefined);
    });

    await t.test('a durable never configured behaves as before next to a configured one', async () => {
      const egress = egressClient(services, 'grpc');
      await create(['configured-next-door', ['shared.x'], { ackWaitMs: noRedelivery }]);
      await publish(store, 'shared.x', 30);
      const received = await consume(egress, { subject: 'shared.x', durableName: 'plain', count: 30, batchSize: 7 });
      assert.deepEqual(
        received.map((message) => message.sequence),
        range(1, 30),
      );
      assert.equal(await store.ackFloor('plain', 'shared.x'), 30n);
      assert.equal((await store.consumerStats('configured-next-door'))?.ackPending, 0, 'nothing leased for the configured one');
    });
  });
}

test('a configured Consume stream ends cleanly when the server drains', async (t) => {
  const services = await startTestServices(t, { egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
  await services.store.createConsumer(consumerConfig('draining', ['drain.>']), Date.now());
  await publish(services.store, 'drain.a', 1);
  const workers = protocols.map((protocol) => openWorker(t, egressClient(services, protocol), 'draining'));
  // Each stream is open once it sent a frame: the message to one of them, heartbeats to the others.
  const firstFrames = await Promise.all(workers.map((worker) => worker.frame()));
  assert.deepEqual(firstFrames.flat().map(messageKey), ['drain.a:1']);
  // The clients keep reading while the server drains, as real ones do: a frame nobody reads keeps its connection open.
  const readToEnd = async (worker: Worker) => {
    let result = await worker.ended();
    while (!result.done && result.value.messages.length === 0) result = await worker.ended();
    assert.equal(result.done, true, 'the stream ended without an error');
  };
  await Promise.all([services.egress.stop(), ...workers.map(readToEnd)]);
});

test('configured Consume streams of clients that go away end and leave nothing open', async (t) => {
  const services = await startTestServices(t, { egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
  const openConsumeStreams = async () => {
    const text = await (await fetch(`${services.egress.url}/metrics`)).text();
    const lines = text.split('\n').filter((line) => line.startsWith('minitoolstream_open_streams{') && line.includes('method="Consume"'));
    return lines.reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  };
  await services.store.createConsumer(consumerConfig('leaving', ['leave.>']), Date.now());
  const workers = protocols.map((protocol) => openWorker(t, egressClient(services, protocol), 'leaving'));
  await Promise.all(workers.map((worker) => worker.frame()));
  assert.equal(await openConsumeStreams(), 3);
  workers.forEach((worker) => worker.close());
  await eventually(async () => (await openConsumeStreams()) === 0, 10_000);
});
