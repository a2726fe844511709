import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import type { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { createMessageStore } from '../store/message-store.js';
import { openMinioObjectStore } from '../store/s3/object-store.js';
import type { MessageStore } from '../store/store.js';
import { openTarantoolMetadataStore } from '../store/tarantool/metadata-store.js';
import { collect, payload } from '../testing/conformance-harness.js';
import { openEmbeddedHalves } from '../testing/embedded-backend.js';
import { startS3Server } from '../testing/s3-server.js';
import { waitUntilConnected } from '../testing/tarantool-backend.js';
import { startTarantool } from '../testing/tarantool-server.js';
import type { TestBackend } from '../testing/test-backend.js';
import { ingressClient, startTestServices, type Protocol } from '../testing/test-services.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];
// The test transports of gRPC-Web and Connect speak HTTP/1.1, which carries no bidirectional stream.
const streams = (protocol: Protocol) => protocol === 'grpc';
const unlimited = { maxMessages: 1000, maxBytes: 1024 ** 3 };

/** Storage that outlives the services over it: `open` opens new halves on the same data; `restart` restarts the server beneath. */
interface LastingStorage {
  backend: TestBackend;
  restart(): Promise<void>;
}

const lastingStorage: Record<string, (t: TestContext) => Promise<LastingStorage>> = {
  async embedded(t) {
    const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-dedup-'));
    t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
    // The halves are closed with the services' store; reopening the folder is the restart.
    return { backend: { name: 'embedded', open: () => openEmbeddedHalves(dir) }, restart: async () => {} };
  },
  async tarantool(t) {
    const [tarantool, s3] = await Promise.all([startTarantool(t), startS3Server(t)]);
    const backend: TestBackend = {
      name: 'tarantool',
      async open() {
        const metadata = openTarantoolMetadataStore({ ...tarantool, callTimeoutMs: 5000, maxReconnectDelayMs: 200 });
        await waitUntilConnected(metadata);
        const objects = openMinioObjectStore({ ...s3, useSSL: false, bucket: 'minitoolstream' });
        return { metadata, objects };
      },
    };
    return {
      backend,
      async restart() {
        await tarantool.kill();
        await tarantool.start();
      },
    };
  },
};

const withId = (subject: string, text: string, headers: Record<string, string>) => ({
  subject,
  data: Buffer.from(text),
  headers,
});

async function publishRepeats(client: Client<typeof IngressService>, store: MessageStore, protocol: Protocol): Promise<void> {
  const subject = `dedup.${protocol}`;
  const first = await client.publish(withId(subject, 'one', { 'msg-id': 'm1' }));
  assert.equal(first.sequence, 1n);
  assert.equal(first.duplicate, false);
  const repeat = await client.publish(withId(subject, 'one again', { 'msg-id': 'm1' }));
  assert.equal(repeat.sequence, 1n, `${protocol}: a repeat answers the original sequence`);
  assert.equal(repeat.duplicate, true);
  assert.equal((await client.publish(withId(subject, 'two', { 'msg-id': 'm2' }))).sequence, 2n);

  const batch = await client.publishBatch({
    messages: [
      withId(subject, 'x', { 'msg-id': 'm2' }),
      withId(subject, 'y', { 'msg-id': 'm3' }),
      withId(subject, 'z', { 'msg-id': 'm3' }),
    ],
  });
  assert.deepEqual(
    batch.results.map(({ sequence, duplicate }) => [sequence, duplicate]),
    [
      [2n, true],
      [3n, false],
      [3n, true],
    ],
    `${protocol}: earlier messages and repeats inside one batch are duplicates`,
  );

  const repeatAndNew = [withId(subject, 'again', { 'msg-id': 'm1' }), withId(subject, 'four', { 'msg-id': 'm4' })];
  async function* requests() {
    yield { id: 7n, messages: repeatAndNew };
  }
  const answered = streams(protocol)
    ? (await collect(client.publishStream(requests())))[0]!.results
    : (await client.publishBatch({ messages: repeatAndNew })).results;
  assert.deepEqual(
    answered.map(({ sequence, duplicate }) => [sequence, duplicate]),
    [
      [1n, true],
      [4n, false],
    ],
  );

  const stored = await collect(store.read(subject, 0n, unlimited));
  assert.deepEqual(
    stored.map((message) => [message.sequence, Buffer.from(message.data).toString(), message.headers['msg-id']]),
    [
      [1n, 'one', 'm1'],
      [2n, 'two', 'm2'],
      [3n, 'y', 'm3'],
      [4n, 'four', 'm4'],
    ],
    'each msg-id stored once, with its header',
  );
}

async function expectLastSequence(client: Client<typeof IngressService>, store: MessageStore, protocol: Protocol): Promise<void> {
  const subject = `occ.${protocol}`;
  assert.equal((await client.publish(withId(subject, 'a', { 'expected-last-sequence': '0' }))).sequence, 1n);
  await assert.rejects(
    client.publish(withId(subject, 'b', { 'expected-last-sequence': '0' })),
    (error: unknown) =>
      error instanceof ConnectError && error.code === Code.FailedPrecondition && /is at sequence 1\b/.test(error.rawMessage),
  );
  await assert.rejects(
    client.publishBatch({ messages: [withId(subject, 'c', {}), withId(subject, 'd', { 'expected-last-sequence': '1' })] }),
    (error: unknown) =>
      error instanceof ConnectError && error.code === Code.FailedPrecondition && /is at sequence 2\b/.test(error.rawMessage),
  );
  assert.equal(await store.lastSequence(subject), 1n, 'a refused batch stores none of its messages');
  await assert.rejects(
    client.publish(withId(subject, 'e', { 'expected-last-sequence': 'one' })),
    (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument,
  );

  if (!streams(protocol)) return;
  async function* requests() {
    yield { id: 1n, messages: [withId(subject, 'f', { 'expected-last-sequence': '5' })] };
    yield { id: 2n, messages: [withId(subject, 'g', { 'expected-last-sequence': '1' })] };
  }
  const answers = await collect(client.publishStream(requests()));
  assert.deepEqual(
    answers.map(({ id, errorCode, results }) => [id, errorCode, results.map((result) => result.sequence)]),
    [
      [1n, 'failed_precondition', []],
      [2n, '', [2n]],
    ],
  );
  assert.match(answers[0]!.errorMessage, /is at sequence 1\b/);
}

for (const [name, storageOf] of Object.entries(lastingStorage)) {
  test(`msg-id duplicates and expected-last-sequence over every protocol, across a restart (${name})`, async (t) => {
    const storage = await storageOf(t);
    await t.test('inside the window', async (st) => {
      const services = await startTestServices(st, { backend: storage.backend });
      for (const protocol of protocols) {
        await publishRepeats(ingressClient(services, protocol), services.store, protocol);
        await expectLastSequence(ingressClient(services, protocol), services.store, protocol);
      }
    });
    await storage.restart();
    await t.test('after a restart over the same data', async (st) => {
      const services = await startTestServices(st, { backend: storage.backend });
      const repeat = await ingressClient(services).publish(withId('dedup.grpc', 'late', { 'msg-id': 'm3' }));
      assert.deepEqual([repeat.sequence, repeat.duplicate], [3n, true]);
      assert.equal(await services.store.lastSequence('dedup.grpc'), 4n);
    });
    await t.test('outside a short window', async (st) => {
      const services = await startTestServices(st, { backend: storage.backend, env: { DUPLICATE_WINDOW_MS: '300' } });
      const client = ingressClient(services);
      const first = await client.publish(withId('window', 'a', { 'msg-id': 'w' }));
      const deadline = Date.now() + 10_000;
      let later = await client.publish(withId('window', 'b', { 'msg-id': 'w' }));
      // Repeats answer the first sequence until the window has passed; then the id is new.
      while (later.duplicate && Date.now() < deadline) {
        assert.equal(later.sequence, first.sequence);
        await new Promise((resolve) => setTimeout(resolve, 50));
        later = await client.publish(withId('window', 'b', { 'msg-id': 'w' }));
      }
      assert.equal(later.duplicate, false, 'a repeat after the window is a new message');
      assert.equal(later.sequence, first.sequence + 1n);
    });
    await t.test('concurrent publishes of one msg-id through two stores get one sequence', async (st) => {
      const stores = await Promise.all(
        [0, 1].map(async () => {
          const { metadata, objects } = await storage.backend.open(st);
          const store = createMessageStore({ metadata, objects, inlineMaxBytes: 1024, maxMessageBytes: 1024 ** 2 });
          st.after(() => store.close());
          return store;
        }),
      );
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, index) =>
          stores[index % 2]!.publish([
            { subject: 'race', data: payload(index % 4 === 0 ? 2000 : 10, index), headers: { 'msg-id': 'same' } },
          ]),
        ),
      );
      const sequences = new Set(results.map(([result]) => result!.sequence));
      assert.deepEqual([...sequences], [1n], 'every publish answered the one sequence');
      assert.equal(results.filter(([result]) => !result!.duplicate).length, 1, 'exactly one was stored');
      assert.equal(await stores[0]!.lastSequence('race'), 1n);
    });
  });
}
