import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { createWritableIterable } from '@connectrpc/connect/protocol';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { IngressService, type PublishRequestSchema, type PublishStreamResponse } from '../../gen/minitoolstream/ingress_pb.js';
import { bufCurl } from '../testing/buf-curl.js';
import { embeddedBackend } from '../testing/embedded-backend.js';
import { egressClient, ingressClient, startTestServices, type Protocol, type TestServices } from '../testing/test-services.js';
import { batchMaxMessages } from './publish-batch.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];
type PublishInit = MessageInitShape<typeof PublishRequestSchema>;

const message = (subject: string, byte = 1): PublishInit => ({ subject, data: new Uint8Array([byte]) });
const tiny = (count: number, subject = 'many'): PublishInit[] => Array.from({ length: count }, () => message(subject));

async function lastSequence(services: TestServices, subject: string): Promise<bigint> {
  return (await egressClient(services).getLastSequence({ subject })).lastSequence;
}

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const error = await call.then(
    () => assert.fail('the call succeeded'),
    (reason: unknown) => ConnectError.from(reason),
  );
  return error;
}

async function collectStream(
  ingress: Client<typeof IngressService>,
  requests: { id: bigint; messages: PublishInit[] }[],
): Promise<PublishStreamResponse[]> {
  const responses: PublishStreamResponse[] = [];
  async function* input() {
    yield* requests;
  }
  for await (const response of ingress.publishStream(input())) responses.push(response);
  return responses;
}

/** Bidi streams need HTTP/2 in every protocol (Connect refuses them over HTTP/1.1 with 505). */
function streamingClient(services: TestServices, protocol: Protocol): Client<typeof IngressService> {
  const options = { baseUrl: services.ingress.url, httpVersion: '2' as const };
  const transport =
    protocol === 'grpc'
      ? createGrpcTransport(options)
      : protocol === 'grpcweb'
        ? createGrpcWebTransport(options)
        : createConnectTransport(options);
  return createClient(IngressService, transport);
}

for (const protocol of protocols) {
  test(`PublishBatch commits atomically in request order over ${protocol}`, async (t) => {
    const services = await startTestServices(t);
    const ingress = ingressClient(services, protocol);
    const { results } = await ingress.publishBatch({ messages: [message('a'), message('b'), message('a'), message('a')] });
    assert.deepEqual(
      results.map((result) => result.sequence),
      [1n, 1n, 2n, 3n],
    );

    const bad = await refusal(
      ingress.publishBatch({ messages: [message('c'), message('a'), message('a.*'), message('a'), message('bad subject')] }),
    );
    assert.equal(bad.code, Code.InvalidArgument);
    assert.match(bad.rawMessage, /^messages\[2\]: subject "a\.\*" contains a wildcard/);
    const badHeader = await refusal(ingress.publishBatch({ messages: [message('c'), { ...message('c'), headers: { '': 'x' } }] }));
    assert.match(badHeader.rawMessage, /^messages\[1\]: header name/);
    assert.equal(await lastSequence(services, 'a'), 3n, 'nothing of a refused batch is committed');
    assert.equal(await lastSequence(services, 'c'), 0n);
  });

  test(`PublishBatch limits: ${batchMaxMessages} messages and MAX_MESSAGE_BYTES of payload per batch over ${protocol}`, async (t) => {
    const maxMessageBytes = 10 * 1024 * 1024;
    const services = await startTestServices(t, { env: { MAX_MESSAGE_BYTES: String(maxMessageBytes) } });
    const ingress = ingressClient(services, protocol);

    const full = await ingress.publishBatch({ messages: tiny(batchMaxMessages) });
    assert.equal(full.results.at(-1)!.sequence, BigInt(batchMaxMessages));
    const tooMany = await refusal(ingress.publishBatch({ messages: tiny(batchMaxMessages + 1) }));
    assert.equal(tooMany.code, Code.ResourceExhausted);
    assert.match(tooMany.rawMessage, /at most 10000 messages/);

    const half = new Uint8Array(maxMessageBytes / 2 + 1024);
    const tooLarge = await refusal(
      ingress.publishBatch({
        messages: [
          { subject: 'large', data: half },
          { subject: 'large', data: half },
        ],
      }),
    );
    assert.equal(tooLarge.code, Code.ResourceExhausted);
    assert.match(tooLarge.rawMessage, /MAX_MESSAGE_BYTES \(10485760 bytes\)/);
    assert.equal(await lastSequence(services, 'large'), 0n);
    const empty = await refusal(ingress.publishBatch({ messages: [] }));
    assert.equal(empty.code, Code.InvalidArgument);
  });

  test(`PublishStream answers in request order, refusing bad batches without ending the stream, over ${protocol}`, async (t) => {
    const services = await startTestServices(t);
    const responses = await collectStream(streamingClient(services, protocol), [
      { id: 10n, messages: [message('s'), message('s')] },
      { id: 11n, messages: [message('s'), message('no good')] },
      { id: 12n, messages: [message('s')] },
      { id: 13n, messages: [] },
      { id: 14n, messages: tiny(batchMaxMessages + 1, 's') },
      { id: 15n, messages: [message('t'), message('s')] },
    ]);
    assert.deepEqual(
      responses.map(({ id, errorCode, results }) => [id, errorCode, results.map((result) => result.sequence)]),
      [
        [10n, '', [1n, 2n]],
        [11n, 'invalid_argument', []],
        [12n, '', [3n]],
        [13n, 'invalid_argument', []],
        [14n, 'resource_exhausted', []],
        [15n, '', [1n, 4n]],
      ],
    );
    assert.match(responses[1]!.errorMessage, /^messages\[1\]: subject must not contain whitespace/);
    assert.equal(await lastSequence(services, 's'), 4n);
  });
}

test('PublishStream goes on after a refused batch while the client waits for each answer (full duplex over grpc)', async (t) => {
  const services = await startTestServices(t);
  const requests = createWritableIterable<{ id: bigint; messages: PublishInit[] }>();
  const answers = ingressClient(services, 'grpc').publishStream(requests)[Symbol.asyncIterator]();
  const exchange = async (id: bigint, messages: PublishInit[]) => {
    void requests.write({ id, messages });
    const next = await answers.next();
    assert.equal(next.done, false);
    return next.value as PublishStreamResponse;
  };
  assert.equal((await exchange(1n, [message('duplex')])).results[0]!.sequence, 1n);
  assert.equal((await exchange(2n, [message('duplex..x')])).errorCode, 'invalid_argument');
  const third = await exchange(3n, [message('duplex')]);
  assert.deepEqual([third.id, third.errorCode, third.results[0]!.sequence], [3n, '', 2n]);
  requests.close();
  assert.equal((await answers.next()).done, true);
});

test('PublishStream ends UNAVAILABLE when the store fails, after the answers before it', async (t) => {
  const services = await startTestServices(t);
  const requests = createWritableIterable<{ id: bigint; messages: PublishInit[] }>();
  const answers = ingressClient(services, 'grpc').publishStream(requests)[Symbol.asyncIterator]();
  void requests.write({ id: 1n, messages: [message('outage')] });
  assert.equal(((await answers.next()).value as PublishStreamResponse).results[0]!.sequence, 1n);
  await services.store.close();
  void requests.write({ id: 2n, messages: [message('outage')] });
  const ending = await refusal(answers.next());
  assert.equal(ending.code, Code.Unavailable);
  requests.close();
});

test('PublishStream ends UNAVAILABLE when the server drains, after answering what it read', async (t) => {
  // Far beyond the test's own timeout: the stream must end on draining, not on the close deadline.
  const services = await startTestServices(t, { env: { SHUTDOWN_TIMEOUT_MS: '600000' } });
  const requests = createWritableIterable<{ id: bigint; messages: PublishInit[] }>();
  const answers = ingressClient(services, 'grpc').publishStream(requests)[Symbol.asyncIterator]();
  void requests.write({ id: 1n, messages: [message('draining')] });
  const first = await answers.next();
  assert.equal((first.value as PublishStreamResponse).results[0]!.sequence, 1n);
  // The client keeps the stream open and idle; shutdown must not wait for it to close.
  const stopping = services.ingress.stop();
  const ending = await refusal(answers.next());
  assert.equal(ending.code, Code.Unavailable);
  assert.match(ending.rawMessage, /shutting down/);
  await stopping;
  requests.close();
});

test('PublishStream keeps the order of its batches when an earlier one waits for an object upload', async (t) => {
  let releaseUpload!: () => void;
  const uploadReleased = new Promise<void>((resolve) => (releaseUpload = resolve));
  let secondRead!: () => void;
  const secondRequestRead = new Promise<void>((resolve) => (secondRead = resolve));
  // Counts the stream's requests as the handler reads them.
  const countReads: Interceptor = (next) => async (request) => {
    if (!request.stream || request.method.name !== 'PublishStream') return next(request);
    const input = request.message;
    async function* counted() {
      let reads = 0;
      for await (const item of input) {
        yield item;
        if (++reads === 2) secondRead();
      }
    }
    return next({ ...request, message: counted() });
  };
  const services = await startTestServices(t, {
    env: { INLINE_MAX_BYTES: '16' },
    interceptors: [countReads],
    backend: {
      name: 'embedded with a held upload',
      async open(bt) {
        const opened = await embeddedBackend.open(bt);
        const put = opened.objects.put.bind(opened.objects);
        return { ...opened, objects: { ...opened.objects, put: async (...args) => (await uploadReleased, put(...args)) } };
      },
    },
  });
  const requests = createWritableIterable<{ id: bigint; messages: PublishInit[] }>();
  const answers = ingressClient(services, 'grpc').publishStream(requests)[Symbol.asyncIterator]();
  void requests.write({ id: 1n, messages: [{ subject: 'ordered', data: new Uint8Array(100) }] });
  void requests.write({ id: 2n, messages: [message('ordered')] });
  requests.close();
  // The inline batch is read (and ready to commit) while the upload of the first is held.
  await secondRequestRead;
  await new Promise((resolve) => setImmediate(resolve));
  releaseUpload();
  const first = await answers.next();
  const second = await answers.next();
  assert.deepEqual(
    [first.value, second.value].map((response: PublishStreamResponse) => [response.id, response.results[0]!.sequence]),
    [
      [1n, 1n],
      [2n, 2n],
    ],
  );
});

test('buf curl publishes a batch over gRPC through reflection', async (t) => {
  const services = await startTestServices(t);
  const published = await bufCurl([
    '--protocol',
    'grpc',
    '--http2-prior-knowledge',
    '-d',
    '{"messages":[{"subject":"curl.batch","data":"AQ=="},{"subject":"curl.batch"}]}',
    `${services.ingress.url}/minitoolstream.IngressService/PublishBatch`,
  ]);
  assert.equal(published.code, 0, published.stderr);
  assert.deepEqual(
    (JSON.parse(published.stdout) as { results: { sequence: string }[] }).results.map((result) => result.sequence),
    ['1', '2'],
  );
});
