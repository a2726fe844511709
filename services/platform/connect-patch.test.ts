/**
 * The patches in patches/ (applied by patch-package at install) cut connect-node's per-call
 * server CPU. These tests assert the patched behaviour itself, so they fail when an upgrade or
 * a reinstall drops a patch; docs/upstream/connect-es-grpc-unary-cost.md explains each one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createConnectRouter, type HandlerContext } from '@connectrpc/connect';
import {
  createAsyncIterable,
  encodeEnvelope,
  transformCompressEnvelope,
  transformDecompressEnvelope,
  transformJoinEnvelopes,
  transformParseEnvelope,
  transformSerializeEnvelope,
  transformSplitEnvelope,
  type UniversalClientRequest,
  type UniversalServerResponse,
  untilFirst,
} from '@connectrpc/connect/protocol';
import { createTransport } from '@connectrpc/connect/protocol-grpc';
import {
  connectNodeAdapter,
  createGrpcTransport,
  Http2SessionManager,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from '@connectrpc/connect-node';
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from '../../gen/grpc/health/v1/health_pb.js';
import { within } from '../testing/within.js';

const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** The Health/Check handler of a router that records each call's context. */
function healthCheckHandler(contexts: HandlerContext[]) {
  const router = createConnectRouter({ grpc: true, grpcWeb: true, connect: false });
  router.service(Health, {
    check(_request, context) {
      contexts.push(context);
      return { status: HealthCheckResponse_ServingStatus.SERVING };
    },
  });
  const handler = router.handlers.find((candidate) => candidate.method.name === 'Check');
  assert.ok(handler);
  return handler;
}

/** A gRPC (or gRPC-Web) Health/Check call straight into the universal handler, response body unread. */
function callHealthCheck(
  handler: ReturnType<typeof healthCheckHandler>,
  contentType = 'application/grpc',
): Promise<UniversalServerResponse> {
  const message = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema));
  return handler({
    httpVersion: '2.0',
    method: 'POST',
    url: 'http://127.0.0.1/grpc.health.v1.Health/Check',
    header: new Headers({ 'content-type': contentType, te: 'trailers' }),
    body: createAsyncIterable([encodeEnvelope(0, message)]),
    signal: new AbortController().signal,
  });
}

async function readBody(response: UniversalServerResponse): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (response.body && Symbol.asyncIterator in response.body) for await (const chunk of response.body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

test('the installed connect packages are the versions the patches were made for', () => {
  const patches = readdirSync(join(repoRoot, 'patches')).filter((file) => file.startsWith('@connectrpc+'));
  assert.deepEqual(patches.sort(), ['@connectrpc+connect+2.2.0.patch', '@connectrpc+connect-node+2.2.0.patch']);
  for (const file of patches) {
    const [, name, version] = /^@connectrpc\+(.+)\+(\d+\.\d+\.\d+)\.patch$/.exec(file)!;
    const installed = JSON.parse(readFileSync(join(repoRoot, 'node_modules/@connectrpc', name!, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(installed.version, version, `@connectrpc/${name} ${installed.version} installed, patch made for ${version}`);
  }
});

test('the install step fails when a patch was made for another version', { timeout: 120_000 }, (t) => {
  const app = mkdtempSync(join(tmpdir(), 'mts-patch-mismatch-'));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: { postinstall: string } };
  const [command, ...args] = packageJson.scripts.postinstall.split(' ');
  assert.equal(command, 'patch-package');
  // The patched package as an upgrade would leave it: another version, same files.
  const installed = join(app, 'node_modules/@connectrpc/connect');
  cpSync(join(repoRoot, 'node_modules/@connectrpc/connect'), installed, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(installed, 'package.json'), JSON.stringify({ ...manifest, version: '2.2.1' }));
  mkdirSync(join(app, 'patches'));
  cpSync(join(repoRoot, 'patches/@connectrpc+connect+2.2.0.patch'), join(app, 'patches/@connectrpc+connect+2.2.0.patch'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'mismatch', version: '1.0.0', private: true }));
  const result = spawnSync(process.execPath, [join(repoRoot, 'node_modules/patch-package/index.js'), ...args], {
    cwd: app,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.notEqual(result.status, 0, `patch-package accepted a version mismatch:\n${result.stdout}${result.stderr}`);
  assert.match(result.stdout + result.stderr, /version mismatch/);
});

for (const [protocol, contentType] of [
  ['gRPC', 'application/grpc'],
  ['gRPC-Web', 'application/grpc-web+proto'],
]) {
  test(`a ${protocol} unary call is answered without the streaming pipeline: its context ends before the body is read`, async () => {
    const contexts: HandlerContext[] = [];
    const response = await callHealthCheck(healthCheckHandler(contexts), contentType);
    assert.equal(contexts.length, 1);
    // The streaming pipeline ends the context only when its body is drained.
    assert.equal(contexts[0]!.signal.aborted, true, 'the context ended when the response was returned');
    const body = await readBody(response);
    assert.equal(body[0], 0, 'an uncompressed message envelope first');
    const answer = fromBinary(HealthCheckResponseSchema, body.subarray(5, 5 + body.readUInt32BE(1)));
    assert.equal(answer.status, HealthCheckResponse_ServingStatus.SERVING);
    // gRPC sends the status as HTTP trailers, gRPC-Web as a last envelope.
    if (protocol === 'gRPC') assert.equal(response.trailer?.get('grpc-status'), '0');
    else assert.match(body.subarray(5 + body.readUInt32BE(1)).toString('latin1'), /^\x80[^]{4}grpc-status: 0\r\n$/);
  });
}

test('calls that end without a reason share one prebuilt abort reason', async () => {
  const contexts: HandlerContext[] = [];
  const handler = healthCheckHandler(contexts);
  for (let call = 0; call < 2; call++) await readBody(await callHealthCheck(handler));
  const [first, second] = contexts.map((context) => context.signal.reason as unknown);
  assert.ok(first instanceof DOMException);
  assert.equal(first.name, 'AbortError');
  assert.equal(second, first, 'one reason object, not a DOMException (and stack trace) per call');
});

test('the Node response adapter finishes, and request signals share one abort reason', async (t) => {
  const finished: Promise<void>[] = [];
  const requestSignals: AbortSignal[] = [];
  const requestClosed: Promise<void>[] = [];
  const server = http2.createServer((request, response) => {
    const universal = universalRequestFromNodeRequest(request, response, undefined, undefined);
    requestSignals.push(universal.signal);
    requestClosed.push(new Promise((resolve) => universal.signal.addEventListener('abort', () => resolve(), { once: true })));
    finished.push(
      universalResponseToNodeResponse(
        { status: 200, header: new Headers(), body: createAsyncIterable([new Uint8Array([1, 2, 3])]) },
        response,
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  t.after(() => {
    session.close();
    server.close();
  });
  for (let call = 0; call < 2; call++) {
    const stream = session.request({ ':method': 'POST', ':path': '/' });
    stream.end();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    await within(new Promise((resolve) => stream.once('close', resolve)), 10_000, 'the response stream closing');
    assert.deepEqual([...Buffer.concat(chunks)], [1, 2, 3]);
  }
  // Unpatched, the adapter waits for an "end" event that Node's responses never emit.
  await within(Promise.all(finished), 10_000, 'universalResponseToNodeResponse resolving');
  await within(Promise.all(requestClosed), 10_000, 'the request signals aborting on close');
  const [first, second] = requestSignals.map((signal) => signal.reason as unknown);
  assert.ok(first instanceof DOMException);
  assert.equal(first.name, 'AbortError');
  assert.equal(second, first, 'one reason object, not a DOMException (and stack trace) per request');
});

/** Counts the listeners added to any AbortSignal while `run` runs. */
async function countAbortListeners(run: () => Promise<void>): Promise<number> {
  const addEventListener = EventTarget.prototype.addEventListener;
  let added = 0;
  EventTarget.prototype.addEventListener = function (this: EventTarget, ...args: Parameters<typeof addEventListener>) {
    if (this instanceof AbortSignal) added++;
    return addEventListener.apply(this, args);
  };
  try {
    await run();
  } finally {
    EventTarget.prototype.addEventListener = addEventListener;
  }
  return added;
}

/** One raw gRPC Health/Check request on `session`; resolves with the stream once it closed. */
async function rawHealthCheck(session: http2.ClientHttp2Session, service: string) {
  const stream = session.request({
    ':method': 'POST',
    ':path': '/grpc.health.v1.Health/Check',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.end(encodeEnvelope(0, toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }))));
  stream.resume();
  await within(new Promise((resolve) => stream.once('close', resolve)), 10_000, 'the Health/Check stream closing');
  return stream;
}

test('a served call builds no request AbortSignal nobody reads, and its context still aborts with the request', async (t) => {
  let waiting = (): void => {};
  const handlerWaiting = new Promise<void>((resolve) => (waiting = resolve));
  let cancelled = (_reason: unknown): void => {};
  const cancelReason = new Promise<unknown>((resolve) => (cancelled = resolve));
  const server = http2.createServer(
    connectNodeAdapter({
      grpcWeb: false,
      connect: false,
      routes(router) {
        router.service(Health, {
          async check(request, context) {
            if (request.service === 'wait for cancel') {
              const aborted = new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
              waiting();
              await aborted;
              cancelled(context.signal.reason);
            }
            return { status: HealthCheckResponse_ServingStatus.SERVING };
          },
        });
      },
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  t.after(() => {
    session.close();
    server.close();
  });
  await rawHealthCheck(session, 'warm-up');
  const listeners = await countAbortListeners(async () => {
    const stream = await rawHealthCheck(session, '');
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });
  // Unpatched, the context's controller listens to the request's signal and to its own.
  assert.equal(listeners, 0, 'no abort listener for a call whose signals nobody reads');
  // The context links to the request by a callback: a reset still reaches the implementation.
  const stream = session.request({
    ':method': 'POST',
    ':path': '/grpc.health.v1.Health/Check',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  stream.end(encodeEnvelope(0, toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: 'wait for cancel' }))));
  await within(handlerWaiting, 10_000, 'the implementation waiting for its signal');
  stream.close(http2.constants.NGHTTP2_CANCEL);
  const reason = await within(cancelReason, 10_000, 'the implementation seeing the reset');
  assert.equal(ConnectError.from(reason).code, Code.Canceled);
});

test('the Node adapters read a request body with a native generator and write a flushed chunk without listeners', async (t) => {
  const bodyKinds: string[] = [];
  const drainListeners: number[] = [];
  const finished: Promise<void>[] = [];
  const server = http2.createServer((request, response) => {
    const universal = universalRequestFromNodeRequest(request, response, undefined, undefined);
    bodyKinds.push(Object.prototype.toString.call(universal.body));
    let added = 0;
    const once = response.once.bind(response);
    response.once = ((event: string, listener: () => void) => {
      if (event === 'drain') added++;
      return once(event, listener);
    }) as typeof response.once;
    finished.push(
      universalResponseToNodeResponse(
        { status: 200, header: new Headers(), body: createAsyncIterable([new Uint8Array([1, 2, 3])]) },
        response,
      ).then(() => void drainListeners.push(added)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  t.after(() => {
    session.close();
    server.close();
  });
  const stream = session.request({ ':method': 'POST', ':path': '/' });
  stream.end(new Uint8Array([9]));
  stream.resume();
  await within(new Promise((resolve) => stream.once('close', resolve)), 10_000, 'the response stream closing');
  await within(Promise.all(finished), 10_000, 'universalResponseToNodeResponse resolving');
  // Unpatched, both are down-levelled generators (plain objects), and each write waits with listeners.
  assert.deepEqual(bodyKinds, ['[object AsyncGenerator]']);
  assert.equal(Object.prototype.toString.call(createAsyncIterable([])), '[object AsyncGenerator]');
  assert.deepEqual(drainListeners, [0], 'a write that flushed waits for no "drain"');
});

test('a response body awaited for its first chunk hands on the later chunks without a promise of its own', async () => {
  const second = Promise.resolve({ done: false as const, value: new Uint8Array([2]) });
  let calls = 0;
  const inner: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: () => (++calls === 1 ? Promise.resolve({ done: false as const, value: new Uint8Array([1]) }) : second),
    }),
  };
  const it = (await untilFirst(inner))[Symbol.asyncIterator]();
  assert.deepEqual([...((await it.next()).value as Uint8Array)], [1]);
  // Unpatched, next() is an async function: a new promise (and a microtask) per stream frame.
  assert.equal(it.next(), second);
});

test('the envelope transforms that every stream message passes are native generators', () => {
  const serialization = {
    serialize: (text: string) => new TextEncoder().encode(text),
    parse: (data: Uint8Array) => new TextDecoder().decode(data),
  };
  const transforms = [
    transformSplitEnvelope(1024),
    transformDecompressEnvelope(null, 1024),
    transformParseEnvelope(serialization),
    transformSerializeEnvelope(serialization),
    transformCompressEnvelope(null, 0),
    transformJoinEnvelopes(),
  ] as ((iterable: AsyncIterable<never>) => AsyncIterable<unknown>)[];
  // Unpatched, each is a down-levelled generator (a plain object) costing a promise chain per message.
  for (const transform of transforms) {
    assert.equal(Object.prototype.toString.call(transform(createAsyncIterable([]))), '[object AsyncGenerator]');
  }
});

test('an envelope header is written without a DataView, with the same bytes', () => {
  const PublishedDataView = globalThis.DataView;
  let built = 0;
  globalThis.DataView = new Proxy(PublishedDataView, {
    construct(target, args: ConstructorParameters<typeof DataView>, newTarget) {
      built++;
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
  try {
    for (const [flags, length] of [
      [0, 0],
      [1, 1],
      [0x80, 70_000],
      [2, 0x01_00_00_01],
    ] as const) {
      const envelope = encodeEnvelope(flags, new Uint8Array(length));
      const expected = Buffer.alloc(5);
      expected.writeUInt8(flags, 0);
      expected.writeUInt32BE(length, 1);
      assert.deepEqual([...envelope.subarray(0, 5)], [...expected]);
      assert.equal(envelope.length, length + 5);
    }
  } finally {
    globalThis.DataView = PublishedDataView;
  }
  // Unpatched, every envelope (every stream frame) builds one.
  assert.equal(built, 0);
});

/**
 * A gRPC client of Health over an HTTP client that answers SERVING to every call; each call's
 * request (body unread) and signal are recorded.
 */
function recordingHealthClient(requests: UniversalClientRequest[], signals: AbortSignal[]) {
  const serving = toBinary(
    HealthCheckResponseSchema,
    create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING }),
  );
  const transport = createTransport({
    baseUrl: 'http://127.0.0.1',
    useBinaryFormat: true,
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: 0,
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
    interceptors: [
      (next) => (request) => {
        signals.push(request.signal);
        return next(request);
      },
    ],
    httpClient: async (request) => {
      requests.push(request);
      return {
        status: 200,
        header: new Headers({ 'content-type': 'application/grpc' }),
        body: createAsyncIterable([encodeEnvelope(0, serving)]),
        trailer: new Headers({ 'grpc-status': '0' }),
      };
    },
  });
  return createClient(Health, transport);
}

test('a gRPC unary client call sends its message without the streaming pipeline', async () => {
  const requests: UniversalClientRequest[] = [];
  const answer = await recordingHealthClient(requests, []).check({ service: 'x' });
  assert.equal(answer.status, HealthCheckResponse_ServingStatus.SERVING);
  // Unpatched, the body is the pipeline of down-levelled generators (plain objects).
  assert.equal(Object.prototype.toString.call(requests[0]!.body), '[object AsyncGenerator]', 'a native async generator');
  const body = await readBody({ status: 200, header: new Headers(), body: requests[0]!.body! });
  assert.deepEqual(
    [...body],
    [...encodeEnvelope(0, toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: 'x' })))],
  );
});

test('gRPC client calls that finish share one prebuilt abort reason', async () => {
  const signals: AbortSignal[] = [];
  const client = recordingHealthClient([], signals);
  for (let call = 0; call < 2; call++) await client.check({});
  const [first, second] = signals.map((signal) => signal.reason as unknown);
  assert.ok(first instanceof DOMException);
  assert.equal(first.name, 'AbortError');
  assert.equal(second, first, 'one reason object, not a DOMException (and stack trace) per call');
});

test('a client transport builds the serializations of a method once, not per call', async () => {
  const PublishedTextDecoder = globalThis.TextDecoder;
  let built = 0;
  globalThis.TextDecoder = class extends PublishedTextDecoder {
    constructor(...args: ConstructorParameters<typeof TextDecoder>) {
      super(...args);
      built++;
    }
  };
  try {
    const client = recordingHealthClient([], []);
    await client.check({});
    const afterFirstCall = built;
    for (let call = 0; call < 3; call++) await client.check({});
    // Unpatched, every call builds the method's JSON serializations again, a TextDecoder each.
    assert.ok(afterFirstCall > 0, 'the first call built the serializations');
    assert.equal(built, afterFirstCall, 'later calls reuse them');
  } finally {
    globalThis.TextDecoder = PublishedTextDecoder;
  }
});

test('a request that does not decode is invalid_argument; a response that does not decode stays internal', async (t) => {
  const undecodable = encodeEnvelope(0, new Uint8Array([0xff, 0xff, 0xff]));
  const response = await healthCheckHandler([])({
    httpVersion: '2.0',
    method: 'POST',
    url: 'http://127.0.0.1/grpc.health.v1.Health/Check',
    header: new Headers({ 'content-type': 'application/grpc', te: 'trailers' }),
    body: createAsyncIterable([undecodable]),
    signal: new AbortController().signal,
  });
  await readBody(response);
  assert.equal(response.trailer?.get('grpc-status'), String(Code.InvalidArgument));
  // A server whose answer is not a HealthCheckResponse: the client's error, not the caller's.
  const server = http2.createServer((_request, answer) => {
    answer.writeHead(200, { 'content-type': 'application/grpc' });
    answer.addTrailers({ 'grpc-status': '0' });
    answer.end(undecodable);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const sessionManager = new Http2SessionManager(baseUrl);
  t.after(() => {
    sessionManager.abort();
    server.close();
  });
  const client = createClient(Health, createGrpcTransport({ baseUrl, sessionManager }));
  await assert.rejects(client.check({ service: '' }), (error) => ConnectError.from(error).code === Code.Internal);
});
