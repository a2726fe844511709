import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Client } from '@connectrpc/connect';
import type { ConsumeRequest, ConsumeResponse, EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { openTarantoolMetadataStore } from '../store/tarantool/metadata-store.js';
import { eventually, payload } from '../testing/conformance-harness.js';
import { testBackends } from '../testing/store-backends.js';
import { openTarantoolBackend, waitUntilConnected } from '../testing/tarantool-backend.js';
import { egressClient, startTestServices, type Protocol, type TestServices } from '../testing/test-services.js';
import { createEgressService } from './connect.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => BigInt(from + index));
// Short, so a paused or idle stream proves itself with an empty frame instead of a fixed sleep.
const heartbeatMs = 150;

type ConsumeFields = Partial<Pick<ConsumeRequest, 'startSequence' | 'maxAckPending' | 'maxBatch'>>;

/** One open Consume stream, read frame by frame; every read is bounded so a hang fails the test. */
function openConsume(
  t: TestContext,
  egress: Client<typeof EgressService>,
  subject: string,
  durableName: string,
  fields: ConsumeFields = {},
) {
  const client = new AbortController();
  t.after(() => client.abort());
  const frames = egress.consume({ subject, durableName, ...fields }, { signal: client.signal })[Symbol.asyncIterator]();
  const next = async (ms = 20_000): Promise<IteratorResult<ConsumeResponse>> => {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no frame within ${ms} ms`)), ms)));
    try {
      return await Promise.race([frames.next(), hung]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    next,
    /** The sequences of the next frame; a heartbeat gives []. */
    async frame(): Promise<bigint[]> {
      const result = await next();
      assert.equal(result.done, false, 'the stream ended');
      return result.value.messages.map((message) => message.sequence);
    },
    /** Sequences of the next non-empty frames until `count` arrived. */
    async messages(count: number): Promise<bigint[][]> {
      const frames: bigint[][] = [];
      while (frames.flat().length < count) {
        const frame = await this.frame();
        if (frame.length > 0) frames.push(frame);
      }
      return frames;
    },
    close: () => client.abort(),
  };
}

async function publish(services: TestServices, subject: string, count: number): Promise<void> {
  for (let first = 0; first < count; first += 200) {
    const batch = Array.from({ length: Math.min(200, count - first) }, (_, index) => ({
      subject,
      data: payload(16, first + index),
      headers: {},
    }));
    await services.store.publish(batch);
  }
}

for (const backend of testBackends) {
  test(`Consume on ${backend.name}: order, flow control, reconnects and heartbeats over every protocol`, async (t) => {
    const services = await startTestServices(t, { backend, egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
    for (const protocol of protocols) {
      const egress = egressClient(services, protocol);
      const subject = `consume.${protocol}`;

      await t.test(`${protocol}: delivers everything in order in frames of max_batch, then each new commit`, async (t) => {
        await publish(services, subject, 700);
        const stream = openConsume(t, egress, subject, 'all', { maxBatch: 100 });
        const frames = await stream.messages(700);
        assert.deepEqual(frames.flat(), range(1, 700));
        assert.ok(
          frames.every((frame) => frame.length <= 100),
          `frame sizes ${frames.map((frame) => frame.length)}`,
        );
        await publish(services, subject, 3);
        assert.deepEqual((await stream.messages(3)).flat(), range(701, 703), 'a commit wakes the open stream');
      });

      await t.test(`${protocol}: pauses at max_ack_pending and resumes as acks move the floor`, async (t) => {
        const stream = openConsume(t, egress, subject, 'paced', { maxAckPending: 4, maxBatch: 3 });
        assert.deepEqual((await stream.messages(4)).flat(), range(1, 4));
        assert.deepEqual(await stream.frame(), [], 'with 4 unacked it sends only heartbeats, though 699 more wait');
        await egress.ackMessage({ subject, durableName: 'paced', sequence: 2n });
        assert.deepEqual((await stream.messages(2)).flat(), range(5, 6), 'an ack of 2 makes room for 2');
        assert.deepEqual(await stream.frame(), []);
        await egress.ackMessage({ subject, durableName: 'paced', sequence: 6n });
        assert.deepEqual((await stream.messages(4)).flat(), range(7, 10));
      });

      await t.test(`${protocol}: a new Consume on the durable starts again from its ack floor`, async (t) => {
        const first = openConsume(t, egress, subject, 'again', { maxBatch: 5 });
        assert.deepEqual(await first.frame(), range(1, 5));
        await egress.ackMessage({ subject, durableName: 'again', sequence: 3n });
        first.close();
        const second = openConsume(t, egress, subject, 'again', { maxBatch: 5 });
        assert.deepEqual(await second.frame(), range(4, 8), 'unacked 4 and 5 are delivered again');
        const fromStart = openConsume(t, egress, subject, 'again', { maxBatch: 2, startSequence: 700n });
        assert.deepEqual(await fromStart.frame(), range(700, 701), 'start_sequence instead of the floor');
      });

      await t.test(`${protocol}: an idle stream sends empty heartbeat frames`, async (t) => {
        const stream = openConsume(t, egress, `${subject}.idle`, 'quiet');
        assert.deepEqual(await stream.frame(), []);
        assert.deepEqual(await stream.frame(), []);
      });
    }
  });
}

test('Consume streams of clients that go away end and leave nothing open', async (t) => {
  const services = await startTestServices(t, { egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
  const openConsumeStreams = async () => {
    const text = await (await fetch(`${services.egress.url}/metrics`)).text();
    const lines = text.split('\n').filter((line) => line.startsWith('minitoolstream_open_streams{') && line.includes('method="Consume"'));
    return lines.reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  };
  await publish(services, 'consume.gone', 1);
  const streams = protocols.map((protocol) => openConsume(t, egressClient(services, protocol), 'consume.gone', `gone-${protocol}`));
  for (const stream of streams) assert.deepEqual(await stream.frame(), [1n]);
  assert.equal(await openConsumeStreams(), 3);
  streams.forEach((stream) => stream.close());
  await eventually(async () => (await openConsumeStreams()) === 0, 10_000);
});

test('Consume streams end cleanly when the server shuts down', async (t) => {
  const services = await startTestServices(t, { egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }) });
  await publish(services, 'consume.shutdown', 2);
  const streams = protocols.map((protocol) => openConsume(t, egressClient(services, protocol), 'consume.shutdown', `bye-${protocol}`));
  for (const stream of streams) assert.deepEqual(await stream.frame(), range(1, 2));
  await services.egress.stop();
  for (const stream of streams) {
    let result = await stream.next();
    // A heartbeat may have been on its way.
    while (!result.done && result.value.messages.length === 0) result = await stream.next();
    assert.equal(result.done, true, 'the stream ended without an error');
  }
});

test('an ack made through another egress replica resumes a paused stream through the change feed', async (t) => {
  const { metadata, objects, tarantool } = await openTarantoolBackend(t);
  // No heartbeat, and so no fallback re-read of the floor, within the test's lifetime.
  const egress = createEgressService({ consumeHeartbeatMs: 10 * 60_000 });
  const services = await startTestServices(t, { backend: { name: 'tarantool', open: async () => ({ metadata, objects }) }, egress });
  const otherReplica = openTarantoolMetadataStore({ ...tarantool, callTimeoutMs: 5000 });
  t.after(() => otherReplica.close());
  await waitUntilConnected(otherReplica);
  await publish(services, 'consume.replicas', 5);
  const stream = openConsume(t, egressClient(services), 'consume.replicas', 'shared', { maxAckPending: 2 });
  assert.deepEqual((await stream.messages(2)).flat(), range(1, 2));
  await otherReplica.ack('shared', 'consume.replicas', 2n);
  assert.deepEqual(await stream.frame(), range(3, 4));
});
