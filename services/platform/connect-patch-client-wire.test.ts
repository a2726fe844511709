/**
 * The patched connect-node gRPC client (patches/: a unary call without the streaming pipeline,
 * no deadline AbortController without a timeout, one prebuilt abort reason) sends the same
 * bytes and reports the same outcome as the published one. A scripted node:http2 server answers
 * each edge case; both clients call it in this process (the published copy is the installed one
 * with patches/ reversed). Compared: what the server received (headers, body bytes, the stream's
 * reset code) and what the caller saw (message or error code, message and metadata, response
 * headers and trailers, and how the call's signal ended).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { create, toBinary, toJsonString } from '@bufbuild/protobuf';
import type * as Connect from '@connectrpc/connect';
import type * as ConnectNode from '@connectrpc/connect-node';
import { compressionGzip } from '@connectrpc/connect-node';
import { EgressService, GetLastSequenceResponseSchema } from '../../gen/minitoolstream/egress_pb.js';
import { envelope } from '../testing/grpc-envelope.js';
import { createUnpatchedConnect } from '../testing/unpatched-connect.js';
import { within } from '../testing/within.js';

const answer = toBinary(GetLastSequenceResponseSchema, create(GetLastSequenceResponseSchema, { lastSequence: 42n }));
const grpcHeaders = { ':status': 200, 'content-type': 'application/grpc' };
const ok = { 'grpc-status': '0' };

/** How the scripted server answers one case. */
interface Reply {
  headers: http2.OutgoingHttpHeaders;
  /** Written one by one. */
  chunks?: Buffer[];
  trailers?: http2.OutgoingHttpHeaders;
}

interface Case {
  name: string;
  /** undefined: the server never answers, the client ends the call. */
  reply?: Reply;
  /** Reset the stream with this code once the request arrived. */
  reset?: number;
  transport?: Partial<ConnectNode.GrpcTransportOptions>;
  timeoutMs?: number;
  /** Abort the call once the server has the request. */
  cancel?: boolean;
}

const cases: Case[] = [
  { name: 'success', reply: { headers: grpcHeaders, chunks: [envelope(0, answer)], trailers: ok } },
  {
    name: 'response envelope split across chunks',
    reply: {
      headers: grpcHeaders,
      chunks: [envelope(0, answer).subarray(0, 3), envelope(0, answer).subarray(3, 6), envelope(0, answer).subarray(6)],
      trailers: ok,
    },
  },
  {
    name: 'response headers and trailers',
    reply: { headers: { ...grpcHeaders, 'x-answer': 'h' }, chunks: [envelope(0, answer)], trailers: { ...ok, 'x-trailer': 't' } },
  },
  { name: 'empty response message', reply: { headers: grpcHeaders, chunks: [envelope(0, new Uint8Array())], trailers: ok } },
  {
    name: 'two response messages',
    reply: { headers: grpcHeaders, chunks: [Buffer.concat([envelope(0, answer), envelope(0, answer)])], trailers: ok },
  },
  { name: 'no response message with status ok', reply: { headers: grpcHeaders, chunks: [], trailers: ok } },
  { name: 'no response message and no status', reply: { headers: grpcHeaders, chunks: [] } },
  {
    name: 'trailers-only error',
    reply: { headers: { ...grpcHeaders, 'grpc-status': '5', 'grpc-message': 'no such subject', 'x-error-meta': 'm' } },
  },
  {
    name: 'error status after a message',
    reply: { headers: grpcHeaders, chunks: [envelope(0, answer)], trailers: { 'grpc-status': '13', 'grpc-message': 'broke' } },
  },
  {
    name: 'error status in the headers and a message',
    reply: { headers: { ...grpcHeaders, 'grpc-status': '3' }, chunks: [envelope(0, answer)], trailers: ok },
  },
  {
    name: 'gzip response',
    reply: { headers: { ...grpcHeaders, 'grpc-encoding': 'gzip' }, chunks: [envelope(1, gzipSync(answer))], trailers: ok },
  },
  { name: 'compressed flag without an encoding', reply: { headers: grpcHeaders, chunks: [envelope(1, gzipSync(answer))], trailers: ok } },
  {
    name: 'unknown response encoding',
    reply: { headers: { ...grpcHeaders, 'grpc-encoding': 'snappy' }, chunks: [envelope(1, answer)], trailers: ok },
  },
  { name: 'incomplete envelope', reply: { headers: grpcHeaders, chunks: [envelope(0, answer).subarray(0, 6)], trailers: ok } },
  {
    name: 'unparseable message',
    reply: { headers: grpcHeaders, chunks: [envelope(0, Buffer.from([0xff, 0xff, 0xff]))], trailers: ok },
  },
  {
    name: 'message over readMaxBytes',
    transport: { readMaxBytes: 4 },
    reply: { headers: grpcHeaders, chunks: [envelope(0, answer)], trailers: ok },
  },
  { name: 'HTTP status 503', reply: { headers: { ':status': 503 }, chunks: [] } },
  { name: 'response content type not gRPC', reply: { headers: { ':status': 200, 'content-type': 'text/plain' }, chunks: [] } },
  {
    name: 'gzip request',
    transport: { sendCompression: compressionGzip, compressMinBytes: 0 },
    reply: { headers: grpcHeaders, chunks: [envelope(0, answer)], trailers: ok },
  },
  {
    name: 'JSON codec',
    transport: { useBinaryFormat: false },
    reply: {
      headers: { ...grpcHeaders, 'content-type': 'application/grpc+json' },
      chunks: [
        envelope(0, Buffer.from(toJsonString(GetLastSequenceResponseSchema, create(GetLastSequenceResponseSchema, { lastSequence: 7n })))),
      ],
      trailers: ok,
    },
  },
  // Each call opens its own connection: the deadline must leave time for it and for the request to
  // arrive even on a loaded machine, or what the server received would differ by chance.
  { name: 'deadline exceeded', timeoutMs: 1000 },
  { name: 'cancelled by the caller', cancel: true },
  { name: 'stream reset by the server', reset: http2.constants.NGHTTP2_REFUSED_STREAM },
];

/** What the server received on one stream. */
interface Received {
  headers: [string, unknown][];
  body: string;
  rstCode: number | undefined;
}

interface Server {
  url: string;
  /** The next request: when it arrived (headers and body), and what the server received once the stream closed. */
  next(): { arrived: Promise<void>; received: Promise<Received> };
  close(): Promise<void>;
}

function entries(headers: Record<string, unknown> | Headers): [string, unknown][] {
  const all = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
  return all.filter(([name]) => name !== 'date').sort(([a], [b]) => a.localeCompare(b));
}

async function startServer(): Promise<Server> {
  let arrived = () => {};
  let received = (_: Received) => {};
  const server = http2.createServer();
  // Closed with the server: the clients keep their connections open.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const request = cases.find((candidate) => candidate.name === headers['x-case']);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => {});
    stream.on('close', () => received({ headers: entries(headers), body: Buffer.concat(chunks).toString('hex'), rstCode: stream.rstCode }));
    stream.on('end', () => {
      arrived();
      if (request?.reset !== undefined) stream.close(request.reset);
      const reply = request?.reply;
      if (reply === undefined) return;
      const trailers = reply.trailers;
      stream.respond(reply.headers, { endStream: reply.chunks === undefined, waitForTrailers: trailers !== undefined });
      if (trailers !== undefined) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      if (reply.chunks === undefined) return;
      for (const chunk of reply.chunks) stream.write(chunk);
      stream.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    next: () => ({
      arrived: new Promise((resolve) => (arrived = resolve)),
      received: new Promise((resolve) => (received = resolve)),
    }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}

/** The outcome of one call as its caller saw it. */
interface Outcome {
  result: unknown;
  header: [string, unknown][];
  trailer: [string, unknown][];
  /** The call's signal as an interceptor saw it after the call. */
  signal: { aborted: boolean; reason: string };
}

interface Library {
  connect: typeof Connect;
  connectNode: typeof ConnectNode;
}

async function call(library: Library, server: Server, request: Case): Promise<Outcome & { received: Received }> {
  const { createClient, ConnectError, Code } = library.connect;
  let callSignal: AbortSignal | undefined;
  const transport = library.connectNode.createGrpcTransport({
    baseUrl: server.url,
    ...request.transport,
    interceptors: [
      (next) => (req) => {
        callSignal = req.signal;
        return next(req);
      },
    ],
  });
  const client = createClient(EgressService, transport);
  const next = server.next();
  const caller = new AbortController();
  let header = new Headers();
  let trailer = new Headers();
  const pending = client
    .getLastSequence(
      { subject: 'sub' },
      {
        headers: { 'x-case': request.name },
        timeoutMs: request.timeoutMs,
        signal: caller.signal,
        onHeader: (received) => (header = received),
        onTrailer: (received) => (trailer = received),
      },
    )
    .then(
      (message) => ({ message: toJsonString(GetLastSequenceResponseSchema, message) }),
      (error: unknown) => {
        const connectError = ConnectError.from(error);
        return { code: Code[connectError.code], message: connectError.rawMessage, metadata: entries(connectError.metadata) };
      },
    );
  if (request.cancel) {
    await within(next.arrived, 10_000, 'the request arriving');
    caller.abort();
  }
  const result = await within(pending, 10_000, 'the call ending');
  const received = await within(next.received, 10_000, 'the server stream closing');
  const reason = callSignal?.reason as { name?: unknown; code?: unknown } | undefined;
  return {
    result,
    header: entries(header),
    trailer: entries(trailer),
    signal: { aborted: callSignal?.aborted ?? false, reason: `${reason?.name}/${reason?.code}` },
    received,
  };
}

let work: string;
let server: Server;
let patched: Library;
let published: Library;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'mts-connect-client-unpatched-'));
  const unpatched = createUnpatchedConnect(work);
  patched = { connect: await import('@connectrpc/connect'), connectNode: await import('@connectrpc/connect-node') };
  published = {
    connect: (await import(unpatched.connect)) as typeof Connect,
    connectNode: (await import(unpatched.connectNode)) as typeof ConnectNode,
  };
  server = await startServer();
});

after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

for (const request of cases) {
  test(`the patched gRPC client sends and reports the same as the published one: ${request.name}`, async () => {
    const expected = await call(published, server, request);
    const actual = await call(patched, server, request);
    assert.deepEqual(actual, expected);
  });
}
