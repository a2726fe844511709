/**
 * stop() ends within SHUTDOWN_TIMEOUT_MS (plus a short grace) whatever the clients do: calls
 * still running at the deadline are aborted, and the connections that are still open after
 * the grace are destroyed, even when the client never reads or never ends its stream.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { EgressService, FetchRequestSchema } from '../../gen/minitoolstream/egress_pb.js';
import { eventually } from '../testing/conformance-harness.js';
import { metricValue } from '../testing/metric-value.js';
import { ingressClient, startTestServices, transportFor } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { OPEN_STREAMS } from './metrics.js';

const shutdownTimeoutMs = 300;
// Far beyond the shutdown timeout and its grace, far below the test's own limit.
const stopBoundMs = 20_000;
const env = { SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) };

const openStreams = (url: string, service: string, method: string) =>
  metricValue(url, OPEN_STREAMS, { service: `minitoolstream.${service}`, method });

/** One uncompressed gRPC (and gRPC-Web) message frame. */
function frame(message: Uint8Array): Buffer {
  const bytes = Buffer.alloc(5 + message.length);
  bytes.writeUInt32BE(message.length, 1);
  bytes.set(message, 5);
  return bytes;
}

/**
 * A raw gRPC request on a new HTTP/2 session (destroyed when the test ends) whose response is
 * never read; `body` is sent as one message and ends the request unless it is undefined.
 */
function unreadRequest(t: TestContext, url: string, path: string, body: Uint8Array | undefined, settings?: http2.Settings) {
  const session = http2.connect(url, settings ? { settings } : {});
  t.after(() => session.destroy());
  session.on('error', () => {});
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  stream.pause();
  if (body !== undefined) stream.end(frame(body));
  return { stream, sessionClosed: once(session, 'close') };
}

test('stop() ends while an HTTP/2 client that never reads holds a Fetch stream blocked on flow control', async (t) => {
  const services = await startTestServices(t, { env });
  const messages = 4;
  const data = new Uint8Array(1024 * 1024).fill(1);
  for (let i = 0; i < messages; i++) await ingressClient(services).publish({ subject: 'stuck.fetch', data });

  // A tiny window, and the response never read: the server's writes stop after a few bytes.
  const request = toBinary(
    FetchRequestSchema,
    create(FetchRequestSchema, { subject: 'stuck.fetch', durableName: 'd', batchSize: messages }),
  );
  const { stream, sessionClosed } = unreadRequest(t, services.egress.url, '/minitoolstream.EgressService/Fetch', request, {
    initialWindowSize: 1024,
  });
  await within(once(stream, 'response'), 10_000, 'the Fetch response to start');

  await within(services.egress.stop(), stopBoundMs, 'egress to stop');
  await within(sessionClosed, 10_000, 'the client session to be closed by the server');
  assert.ok(stream.readableLength < messages * data.length, 'the client had not received the whole answer');
});

test('stop() ends while an HTTP/1.1 gRPC-Web client that never reads holds a Fetch stream on TCP backpressure', async (t) => {
  const services = await startTestServices(t, { env });
  // More than loopback socket buffers hold, so the server's writes wait for a reader.
  const messages = 24;
  const data = new Uint8Array(1024 * 1024).fill(2);
  await services.store.publish(Array.from({ length: messages }, () => ({ subject: 'stuck.web', data, headers: {} })));

  const body = toBinary(FetchRequestSchema, create(FetchRequestSchema, { subject: 'stuck.web', durableName: 'd', batchSize: messages }));
  const envelope = frame(body);
  const { port } = new URL(services.egress.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  socket.pause();
  socket.write(
    `POST /minitoolstream.EgressService/Fetch HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/grpc-web+proto\r\n` +
      `content-length: ${envelope.length}\r\n\r\n`,
  );
  socket.write(envelope);
  await eventually(async () => (await openStreams(services.egress.url, 'EgressService', 'Fetch')) === 1, 10_000);

  await within(services.egress.stop(), stopBoundMs, 'egress to stop');
  // What had arrived is read first: a paused socket reports its end after its data.
  socket.resume();
  await within(closed, 10_000, 'the client socket to be closed by the server');
});

test('stop() ends while an HTTP/2 client keeps a PublishStream open without sending or reading', async (t) => {
  const services = await startTestServices(t, { env });
  // The request is never ended, and nothing is sent on it.
  const { sessionClosed } = unreadRequest(t, services.ingress.url, '/minitoolstream.IngressService/PublishStream', undefined);
  await eventually(async () => (await openStreams(services.ingress.url, 'IngressService', 'PublishStream')) === 1, 10_000);

  await within(services.ingress.stop(), stopBoundMs, 'ingress to stop');
  await within(sessionClosed, 10_000, 'the client session to be closed by the server');
});

test('stop() ends while a Subscribe stream is open and its client never goes away', async (t) => {
  const services = await startTestServices(t, { env });
  const notes = createClient(EgressService, transportFor(services.egress.url)).subscribe({ subject: 'stuck.subscribe', durableName: 'd' });
  // The client reads, and never cancels: only the server can end the stream.
  const reading = (async () => {
    for await (const _note of notes);
  })().catch(() => {});
  await eventually(async () => (await openStreams(services.egress.url, 'EgressService', 'Subscribe')) === 1, 10_000);

  await within(services.egress.stop(), stopBoundMs, 'egress to stop');
  await within(reading, 10_000, 'the Subscribe stream to end');
});
