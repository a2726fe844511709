import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { AckKind, AckOutcome, EgressService } from '../../gen/minitoolstream/egress_pb.js';
import type { MessageStore } from '../store/store.js';
import { collect, eventually, payload } from '../testing/conformance-harness.js';
import { consumerConfig, messageKey, openWorker, type Delivery, type Worker } from '../testing/configured-consumer.js';
import { openEmbeddedHalves } from '../testing/embedded-backend.js';
import { remoteStorageEnv, startServiceProcess, type ServiceProcess } from '../testing/service-process.js';
import { openTarantoolBackend } from '../testing/tarantool-backend.js';
import { startTestServices, transportFor, type Protocol } from '../testing/test-services.js';
import { createEgressService } from './connect.js';

// A stream of the in-process egress proves it is idle with an empty frame this often.
const heartbeatMs = 300;
// A redelivery is measured from the lease, which happened before its frame arrived: allow that frame's trip.
const frameTripMs = 100;

/** A store shared by the test's own egress and egress processes it spawns. */
interface Cluster {
  store: MessageStore;
  /** The egress in the test's process. */
  local: string;
  /** Starts another egress process on the same store, once its store answers (it listens before it has connected). */
  spawnEgress(): Promise<ServiceProcess>;
}

type OpenCluster = (t: TestContext) => Promise<Cluster>;

const clusters: Record<string, OpenCluster> = {
  async embedded(t) {
    const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-workers-'));
    t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
    const backend = { name: 'embedded', open: () => openEmbeddedHalves(dir) };
    const services = await startTestServices(t, { backend, egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
    return {
      store: services.store,
      local: services.egress.url,
      spawnEgress: () => startServiceProcess(t, 'egress', { STORAGE: 'embedded', MTS_DATA_DIR: dir }),
    };
  },
  async tarantool(t) {
    const { metadata, objects, tarantool, s3 } = await openTarantoolBackend(t);
    const backend = { name: 'tarantool', open: async () => ({ metadata, objects }) };
    const services = await startTestServices(t, { backend, egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
    return {
      store: services.store,
      local: services.egress.url,
      spawnEgress: () => startServiceProcess(t, 'egress', remoteStorageEnv(tarantool, s3)),
    };
  },
};

const client = (url: string, protocol: Protocol): Client<typeof EgressService> => createClient(EgressService, transportFor(url, protocol));

interface Received extends Delivery {
  worker: number;
}

/** What the workers of one consumer received, in arrival order, and the distinct messages among it. */
interface Receipts {
  all: Received[];
  distinct: Set<string>;
}

/**
 * Reads frames and acknowledges each in one AckMessages call until `done()`;
 * a frame the test no longer waits for (the streams were closed) ends it.
 */
async function work(
  index: number,
  worker: Worker,
  egress: Client<typeof EgressService>,
  durableName: string,
  received: Receipts,
  done: () => boolean,
) {
  while (!done()) {
    let frame: Delivery[];
    try {
      frame = await worker.frame(60_000);
    } catch (error) {
      if (done()) return;
      throw error;
    }
    if (frame.length === 0) continue;
    for (const delivery of frame) {
      received.all.push({ ...delivery, worker: index });
      received.distinct.add(messageKey(delivery));
    }
    const acks = frame.map(({ subject, sequence }) => ({ subject, sequence, kind: AckKind.ACK }));
    const { outcomes } = await egress.ackMessages({ durableName, acks });
    // An ack of a delivery that was since redelivered still counts; a late second one finds nothing.
    assert.ok(outcomes.every((outcome) => outcome === AckOutcome.APPLIED || outcome === AckOutcome.NOT_PENDING));
  }
}

for (const [backend, openCluster] of Object.entries(clusters)) {
  test(`${backend}: workers on two egress processes share a configured consumer, and a crash loses nothing`, async (t) => {
    const cluster = await openCluster(t);
    const { store } = cluster;
    const other = await cluster.spawnEgress();

    await t.test('3 streams over 2 egress processes share 10,000 messages, none to two workers within the ack wait', async (t) => {
      const ackWaitMs = 30_000;
      await store.createConsumer(consumerConfig('share', ['share.>'], { ackWaitMs }), Date.now());
      const streams = [
        { egress: client(cluster.local, 'grpc'), maxBatch: 100 },
        { egress: client(other.url, 'grpcweb'), maxBatch: 150 },
        { egress: client(other.url, 'connect'), maxBatch: 200 },
      ];
      const workers = streams.map(({ egress, maxBatch }) => openWorker(t, egress, 'share', { maxBatch }));
      const received: Receipts = { all: [], distinct: new Set() };
      const total = 10_000;
      const acked = () => received.distinct.size >= total;
      const working = Promise.all(streams.map(({ egress }, index) => work(index, workers[index]!, egress, 'share', received, acked)));
      for (let first = 0; first < total; first += 500) {
        const subject = first % 1000 === 0 ? 'share.a' : 'share.b';
        await store.publish(Array.from({ length: 500 }, (_, index) => ({ subject, data: payload(16, first + index), headers: {} })));
      }
      // A worker that fails ends the wait at once.
      await Promise.race([eventually(async () => acked(), 180_000), working]);
      workers.forEach((worker) => worker.close());
      await working;

      const byMessage = new Map<string, Received[]>();
      for (const delivery of received.all) byMessage.set(messageKey(delivery), [...(byMessage.get(messageKey(delivery)) ?? []), delivery]);
      assert.equal(byMessage.size, total, 'every message was delivered');
      for (const [key, deliveries] of byMessage) {
        for (let index = 1; index < deliveries.length; index++) {
          const gap = deliveries[index]!.receivedAt - deliveries[index - 1]!.receivedAt;
          assert.ok(gap >= ackWaitMs - frameTripMs, `${key} delivered again ${gap} ms after it was leased`);
        }
      }
      // How the messages split depends on scheduling (a stream may even get none on a loaded machine): reported, not asserted.
      const perWorker = [0, 1, 2].map((index) => received.all.filter((delivery) => delivery.worker === index).length);
      t.diagnostic(`messages per stream: ${perWorker.join(', ')}`);
      const stats = await store.consumerStats('share');
      assert.equal(stats?.ackPending, 0, 'all acknowledged');
      assert.deepEqual(
        stats?.positions.map(({ subject, ackFloor }) => [subject, ackFloor]),
        [
          ['share.a', 5000n],
          ['share.b', 5000n],
        ],
      );
    });

    await t.test('Fetch and AckMessage see a consumer created or deleted on the other egress process at once', async () => {
      const here = client(cluster.local, 'grpc');
      const there = client(other.url, 'connect');
      const fetched = async (batchSize: number) =>
        (await collect(there.fetch({ subject: 'legacy.x', durableName: 'turncoat', batchSize }))).map((message) => message.sequence);
      await store.publish(Array.from({ length: 3 }, (_, index) => ({ subject: 'legacy.x', data: payload(4, index), headers: {} })));
      assert.deepEqual(await fetched(2), [1n, 2n], 'an ordinary durable');
      assert.equal((await there.ackMessage({ durableName: 'turncoat', subject: 'legacy.x', sequence: 2n })).success, true);

      await here.createConsumer({ config: { durableName: 'turncoat', filterSubjects: ['legacy.>'] } });
      const refused = await fetched(10).then(
        () => assert.fail('Fetch of a configured consumer succeeded'),
        (error: unknown) => ConnectError.from(error),
      );
      assert.equal(refused.code, Code.FailedPrecondition, 'the first Fetch after the create is refused');
      const settled = await there.ackMessage({ durableName: 'turncoat', subject: 'legacy.x', sequence: 3n });
      assert.deepEqual([settled.success, settled.errorMessage], [false, 'sequence 3 of legacy.x is not pending for consumer turncoat']);
      assert.equal(await store.ackFloor('turncoat', 'legacy.x'), 2n, 'an ack of the configured consumer left the legacy floor alone');

      await here.deleteConsumer({ durableName: 'turncoat' });
      assert.deepEqual(await fetched(10), [3n], 'deleted, it is the ordinary durable again at once');
      assert.equal((await there.ackMessage({ durableName: 'turncoat', subject: 'legacy.x', sequence: 3n })).success, true);
      assert.equal(await store.ackFloor('turncoat', 'legacy.x'), 3n);
    });

    await t.test('an egress process killed with leased messages: another worker gets them after the ack wait', async (t) => {
      const ackWaitMs = 1500;
      await store.createConsumer(consumerConfig('crash', ['crash.x'], { ackWaitMs }), Date.now());
      await store.publish(Array.from({ length: 20 }, (_, index) => ({ subject: 'crash.x', data: payload(4, index), headers: {} })));
      const doomed = await cluster.spawnEgress();
      const leased = await openWorker(t, client(doomed.url, 'grpc'), 'crash', { maxBatch: 20 }).deliveries(20);
      assert.ok(leased.every((delivery) => delivery.deliveryCount === 1));
      doomed.child.kill('SIGKILL');
      assert.equal(await doomed.exited, 'SIGKILL');

      const survivor = openWorker(t, client(cluster.local, 'connect'), 'crash', { maxBatch: 20 });
      const redelivered = await survivor.deliveries(20, 10_000);
      const waitedMs = redelivered[0]!.receivedAt - leased[0]!.receivedAt;
      assert.ok(waitedMs >= ackWaitMs - frameTripMs, `redelivered ${waitedMs} ms after the lease`);
      assert.deepEqual(redelivered.map(messageKey).sort(), leased.map(messageKey).sort());
      assert.ok(redelivered.every((delivery) => delivery.deliveryCount === 2));
      const acks = redelivered.map(({ subject, sequence }) => ({ subject, sequence, kind: AckKind.ACK }));
      const { outcomes } = await client(cluster.local, 'connect').ackMessages({ durableName: 'crash', acks });
      assert.ok(outcomes.every((outcome) => outcome === AckOutcome.APPLIED));
      assert.equal((await store.consumerStats('crash'))?.ackPending, 0);
    });
  });
}
