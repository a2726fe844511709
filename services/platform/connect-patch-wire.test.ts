/**
 * The patched connect-node answers every request with the same bytes as the published one:
 * both serve the same routes in this process (the published copy is the installed one with
 * patches/ reversed), on node:http2 and node:http. Each edge case is sent to both, as HTTP/2
 * (status, headers, body bytes, trailers and stream reset code are compared) or as raw HTTP/1.1
 * (the response bytes as they come off the socket, chunk framing included); what the
 * implementation saw of its call's end is compared too. One answer differs on purpose: a request
 * message that does not decode is invalid_argument, where the published library says internal.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { create, toBinary, toJsonString } from '@bufbuild/protobuf';
import type * as Connect from '@connectrpc/connect';
import type * as ConnectNode from '@connectrpc/connect-node';
import {
  EgressService,
  GetLastSequenceRequestSchema,
  GetLastSequenceResponseSchema,
  FetchRequestSchema,
} from '../../gen/minitoolstream/egress_pb.js';
import { envelope } from '../testing/grpc-envelope.js';
import { createUnpatchedConnect } from '../testing/unpatched-connect.js';
import { within } from '../testing/within.js';

const readMaxBytes = 1024;
const payload = new Uint8Array(1024).fill(7);

/** The next call to subject "wait": when it starts waiting for its end, and how it ended. */
interface Waiter {
  started: Promise<void>;
  /** The code of the call's signal reason. */
  ended: Promise<string>;
}

interface Server {
  url: string;
  http1Port: number;
  nextWaiter(): Waiter;
  close(): Promise<void>;
}

async function startServer(connect: typeof Connect, connectNode: typeof ConnectNode): Promise<Server> {
  const { Code, ConnectError } = connect;
  let waiterStarted = () => {};
  let waiterEnded = (_code: string) => {};
  const handler = connectNode.connectNodeAdapter({
    readMaxBytes,
    // Every response to a client that accepts gzip is compressed.
    compressMinBytes: 0,
    routes(router) {
      router.service(EgressService, {
        async getLastSequence(request, context) {
          switch (request.subject) {
            case '':
              return {};
            case 'headers':
              context.responseHeader.set('x-answer', 'h');
              context.responseTrailer.set('x-trailer', 't');
              return { lastSequence: 1n };
            case 'details':
              throw new ConnectError('bad subject: details', Code.InvalidArgument, { 'x-error-meta': 'm' }, [
                { desc: GetLastSequenceResponseSchema, value: { lastSequence: 7n } },
              ]);
            case 'crash':
              throw new Error('boom');
            case 'wait':
              await new Promise((resolve) => {
                context.signal.addEventListener('abort', resolve, { once: true });
                waiterStarted();
              });
              waiterEnded(Code[ConnectError.from(context.signal.reason).code]);
              throw ConnectError.from(context.signal.reason);
            default:
              return { lastSequence: BigInt(request.subject.length) };
          }
        },
        async *fetch(request) {
          const count = request.subject === 'none' ? 0 : 3;
          for (let sequence = 1; sequence <= count; sequence++) {
            if (request.subject === 'fail' && sequence === 3) throw new ConnectError('stream broke', Code.DataLoss);
            yield { subject: request.subject, sequence: BigInt(sequence), data: payload };
          }
        },
      });
    },
  });
  const server = http2.createServer(handler);
  const http1Server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => http1Server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    http1Port: (http1Server.address() as net.AddressInfo).port,
    nextWaiter: () => ({
      started: new Promise((resolve) => (waiterStarted = resolve)),
      ended: new Promise((resolve) => (waiterEnded = resolve)),
    }),
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await new Promise((resolve) => http1Server.close(resolve));
    },
  };
}

const lastSequence = (subject: string) => toBinary(GetLastSequenceRequestSchema, create(GetLastSequenceRequestSchema, { subject }));
const fetchRequest = (subject: string) => toBinary(FetchRequestSchema, create(FetchRequestSchema, { subject }));
const unaryPath = '/minitoolstream.EgressService/GetLastSequence';
const streamPath = '/minitoolstream.EgressService/Fetch';
const grpc = { 'content-type': 'application/grpc', te: 'trailers' };
const grpcWeb = { 'content-type': 'application/grpc-web+proto' };
const connect = { 'content-type': 'application/proto', 'connect-protocol-version': '1' };
const trailerFlag = 0x80;
const unparseable = new Uint8Array([0xff, 0xff, 0xff]);

/** A gRPC trailer with status internal (13) as invalid_argument (3). */
function asInvalidArgument([name, value]: [string, unknown]): [string, unknown] {
  return name === 'grpc-status' && value === '13' ? [name, '3'] : [name, value];
}

interface Case {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The call waits for its end (subject "wait"). */
  waits?: boolean;
  /** Reset the stream once the call is waiting for its end. */
  cancel?: boolean;
  /** Sent as raw HTTP/1.1 (with Connection: close) instead of HTTP/2. */
  http1?: boolean;
  /** The patched answer, from the published one, where the patch changes it on purpose. */
  patched?: (published: Http2Exchange) => Http2Exchange;
}

const cases: Case[] = [
  { name: 'unary success', path: unaryPath, headers: grpc, body: envelope(0, lastSequence('four')) },
  { name: 'unary empty request and response messages', path: unaryPath, headers: grpc, body: envelope(0, new Uint8Array()) },
  { name: 'unary response headers and trailers', path: unaryPath, headers: grpc, body: envelope(0, lastSequence('headers')) },
  { name: 'unary error with details and metadata', path: unaryPath, headers: grpc, body: envelope(0, lastSequence('details')) },
  { name: 'unary non-Connect error', path: unaryPath, headers: grpc, body: envelope(0, lastSequence('crash')) },
  {
    name: 'unary gzip request and response',
    path: unaryPath,
    headers: { ...grpc, 'grpc-encoding': 'gzip', 'grpc-accept-encoding': 'gzip' },
    body: envelope(1, gzipSync(lastSequence('compressed'))),
  },
  {
    name: 'unary unknown request encoding',
    path: unaryPath,
    headers: { ...grpc, 'grpc-encoding': 'snappy' },
    body: envelope(0, lastSequence('x')),
  },
  { name: 'unary compressed flag without an encoding', path: unaryPath, headers: grpc, body: envelope(1, gzipSync(lastSequence('x'))) },
  {
    name: 'unary deadline exceeded',
    path: unaryPath,
    headers: { ...grpc, 'grpc-timeout': '50m' },
    body: envelope(0, lastSequence('wait')),
    waits: true,
  },
  { name: 'unary malformed timeout', path: unaryPath, headers: { ...grpc, 'grpc-timeout': 'soon' }, body: envelope(0, lastSequence('x')) },
  {
    name: 'unary cancelled by the client',
    path: unaryPath,
    headers: grpc,
    body: envelope(0, lastSequence('wait')),
    waits: true,
    cancel: true,
  },
  { name: 'unary without a request message', path: unaryPath, headers: grpc, body: Buffer.alloc(0) },
  {
    name: 'unary with two request messages',
    path: unaryPath,
    headers: grpc,
    body: Buffer.concat([envelope(0, lastSequence('one')), envelope(0, lastSequence('two'))]),
  },
  { name: 'unary incomplete envelope', path: unaryPath, headers: grpc, body: envelope(0, lastSequence('truncated')).subarray(0, 8) },
  {
    name: 'unary unparseable message',
    path: unaryPath,
    headers: grpc,
    body: envelope(0, unparseable),
    patched: (published) => ({ ...published, trailers: published.trailers.map(asInvalidArgument) }),
  },
  {
    name: 'unary gRPC-Web unparseable message',
    path: unaryPath,
    headers: grpcWeb,
    body: envelope(0, unparseable),
    // The status is the body's one trailer envelope.
    patched: (published) => {
      const trailer = Buffer.from(published.body, 'hex').subarray(5).toString('latin1');
      return {
        ...published,
        body: envelope(trailerFlag, Buffer.from(trailer.replace('grpc-status: 13\r\n', 'grpc-status: 3\r\n'), 'latin1')).toString('hex'),
      };
    },
  },
  {
    name: 'unary Connect unparseable message',
    path: unaryPath,
    headers: connect,
    body: Buffer.from(unparseable),
    patched: (published) => {
      const body = Buffer.from(published.body, 'hex').toString().replace('"code":"internal"', '"code":"invalid_argument"');
      const headers = published.headers.map(([name, value]): [string, unknown] =>
        name === ':status' ? [name, 400] : name === 'content-length' ? [name, String(Buffer.byteLength(body))] : [name, value],
      );
      return { ...published, headers, body: Buffer.from(body).toString('hex') };
    },
  },
  {
    name: 'server stream unparseable request',
    path: streamPath,
    headers: grpc,
    body: envelope(0, unparseable),
    patched: (published) => ({ ...published, trailers: published.trailers.map(asInvalidArgument) }),
  },
  { name: 'unary message over readMaxBytes', path: unaryPath, headers: grpc, body: envelope(0, lastSequence('x'.repeat(readMaxBytes))) },
  {
    name: 'unary JSON codec',
    path: unaryPath,
    headers: { ...grpc, 'content-type': 'application/grpc+json' },
    body: envelope(0, Buffer.from(toJsonString(GetLastSequenceRequestSchema, create(GetLastSequenceRequestSchema, { subject: 'json' })))),
  },
  { name: 'unary gRPC over HTTP/1.1', path: unaryPath, headers: grpc, body: envelope(0, lastSequence('h1')), http1: true },
  { name: 'unary gRPC-Web', path: unaryPath, headers: grpcWeb, body: envelope(0, lastSequence('web')) },
  { name: 'unary gRPC-Web over HTTP/1.1', path: unaryPath, headers: grpcWeb, body: envelope(0, lastSequence('web')), http1: true },
  {
    name: 'unary gRPC-Web error with details over HTTP/1.1',
    path: unaryPath,
    headers: grpcWeb,
    body: envelope(0, lastSequence('details')),
    http1: true,
  },
  {
    name: 'unary gRPC-Web gzip over HTTP/1.1',
    path: unaryPath,
    headers: { ...grpcWeb, 'grpc-encoding': 'gzip', 'grpc-accept-encoding': 'gzip' },
    body: envelope(1, gzipSync(lastSequence('compressed'))),
    http1: true,
  },
  {
    name: 'unary gRPC-Web request trailer envelope is skipped',
    path: unaryPath,
    headers: grpcWeb,
    body: Buffer.concat([envelope(0, lastSequence('web')), envelope(trailerFlag, Buffer.from('x-client: 1\r\n'))]),
  },
  {
    name: 'unary gRPC-Web with two request messages',
    path: unaryPath,
    headers: grpcWeb,
    body: Buffer.concat([envelope(0, lastSequence('one')), envelope(0, lastSequence('two'))]),
  },
  { name: 'unary gRPC-Web without a request message', path: unaryPath, headers: grpcWeb, body: Buffer.alloc(0) },
  { name: 'unary gRPC-Web non-Connect error', path: unaryPath, headers: grpcWeb, body: envelope(0, lastSequence('crash')) },
  {
    name: 'unary gRPC-Web deadline exceeded',
    path: unaryPath,
    headers: { ...grpcWeb, 'grpc-timeout': '50m' },
    body: envelope(0, lastSequence('wait')),
    waits: true,
  },
  {
    name: 'unary Connect error over HTTP/1.1',
    path: unaryPath,
    headers: connect,
    body: Buffer.from(lastSequence('details')),
    http1: true,
  },
  {
    name: 'server stream gRPC-Web failing after two messages over HTTP/1.1',
    path: streamPath,
    headers: grpcWeb,
    body: envelope(0, fetchRequest('fail')),
    http1: true,
  },
  { name: 'server stream of three 1 KiB messages', path: streamPath, headers: grpc, body: envelope(0, fetchRequest('ok')) },
  { name: 'server stream failing after two messages', path: streamPath, headers: grpc, body: envelope(0, fetchRequest('fail')) },
  { name: 'server stream without messages', path: streamPath, headers: grpc, body: envelope(0, fetchRequest('none')) },
  {
    name: 'server stream compressed',
    path: streamPath,
    headers: { ...grpc, 'grpc-accept-encoding': 'gzip' },
    body: envelope(0, fetchRequest('ok')),
  },
];

interface Http2Exchange {
  headers: [string, unknown][];
  body: string;
  trailers: [string, unknown][];
  rstCode: number | undefined;
  /** How a waiting call saw its end. */
  ending: string | undefined;
}

/** Node's header objects as sorted entries, without the date. */
function entries(headers: http2.IncomingHttpHeaders | undefined): [string, unknown][] {
  return Object.entries(headers ?? {})
    .filter(([name]) => name !== 'date')
    .sort(([a], [b]) => a.localeCompare(b));
}

/** The raw response bytes, Date header left out. */
async function exchangeHttp1(server: Server, request: Case): Promise<string> {
  const socket = net.connect(server.http1Port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(socket, 'end');
  const fields = { ...request.headers, host: '127.0.0.1', connection: 'close', 'content-length': String(request.body.length) };
  const head = Object.entries(fields)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  // Not end(): the server would drop a response still being computed when the client half-closes.
  socket.write(Buffer.concat([Buffer.from(`POST ${request.path} HTTP/1.1\r\n${head}\r\n`), request.body]));
  await within(ended, 10_000, 'the HTTP/1.1 response ending');
  socket.destroy();
  return Buffer.concat(chunks)
    .toString('latin1')
    .replace(/\r\ndate: [^\r]*/i, '');
}

async function exchange(server: Server, request: Case): Promise<Http2Exchange | string> {
  if (request.http1) return exchangeHttp1(server, request);
  const session = http2.connect(server.url);
  try {
    const waiter = server.nextWaiter();
    const stream = session.request({ ':method': 'POST', ':path': request.path, ...request.headers });
    let headers: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (received) => (headers = received));
    stream.on('trailers', (received) => (trailers = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset stream reports an error; its code is compared below.
    stream.on('error', () => {});
    const closed = once(stream, 'close');
    stream.end(request.body);
    if (request.cancel) {
      await within(waiter.started, 10_000, 'the call waiting for its end');
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }
    await within(closed, 10_000, 'the response stream closing');
    const ending = request.waits ? await within(waiter.ended, 10_000, 'the call ending') : undefined;
    return {
      headers: entries(headers),
      body: Buffer.concat(chunks).toString('hex'),
      trailers: entries(trailers),
      rstCode: stream.rstCode,
      ending,
    };
  } finally {
    session.close();
  }
}

let work: string;
let patched: Server;
let published: Server;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'mts-connect-unpatched-'));
  const unpatched = createUnpatchedConnect(work);
  patched = await startServer(await import('@connectrpc/connect'), await import('@connectrpc/connect-node'));
  published = await startServer(
    (await import(unpatched.connect)) as typeof Connect,
    (await import(unpatched.connectNode)) as typeof ConnectNode,
  );
});

after(async () => {
  await Promise.all([patched?.close(), published?.close()]);
  rmSync(work, { recursive: true, force: true });
});

for (const request of cases) {
  test(`same response as the published connect-node: ${request.name}`, async () => {
    const answer = await exchange(published, request);
    const actual = await exchange(patched, request);
    if (request.patched === undefined) assert.deepEqual(actual, answer);
    else {
      assert.equal(typeof answer, 'object', 'an intended difference is described on an HTTP/2 exchange');
      const expected = request.patched(answer as Http2Exchange);
      assert.notDeepEqual(expected, answer, 'the patch changes this answer');
      assert.deepEqual(actual, expected);
    }
  });
}
