import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { ConsumeRequestSchema } from '../../gen/minitoolstream/egress_pb.js';
import { payload } from '../testing/conformance-harness.js';
import { startTestServices } from '../testing/test-services.js';
import { consumeFrameMaxBytes } from './consume.js';

/** The fetched-bytes counter from /metrics: payload bytes the server has read for streams. */
async function fetchedBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith('minitoolstream_fetched_bytes_total '));
  return Number(line?.split(' ')[1] ?? 0);
}

// A client that stops reading must cost the server a frame or two, not the backlog.
test('a stalled Consume client holds the server to about two frames of read-ahead', async (t) => {
  const services = await startTestServices(t);
  const subject = 'consume.stalled';
  const backlogBytes = 24 * consumeFrameMaxBytes;
  const message = payload(60 * 1024);
  for (let published = 0; published < backlogBytes; published += 100 * message.length) {
    await services.store.publish(Array.from({ length: 100 }, () => ({ subject, data: message, headers: {} })));
  }

  // A raw HTTP/2 client that sends the request and never reads: its window is never reopened.
  const body = toBinary(ConsumeRequestSchema, create(ConsumeRequestSchema, { subject, durableName: 'stalled', maxAckPending: 1_000_000 }));
  const envelope = Buffer.alloc(5 + body.length);
  envelope.writeUInt32BE(body.length, 1);
  envelope.set(body, 5);
  const session = http2.connect(services.egress.url);
  session.on('error', () => {});
  const request = session.request({
    ':method': 'POST',
    ':path': '/minitoolstream.EgressService/Consume',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  request.on('error', () => {});
  request.end(envelope);
  request.pause();

  // Wait until the server stops reading (the counter holds still), within a bound.
  let read = -1;
  for (let round = 0; round < 100; round++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = await fetchedBytes(services.egress.url);
    if (now > 0 && now === read) break;
    read = now;
  }
  t.diagnostic(`read for the stalled stream: ${(read / 2 ** 20).toFixed(1)} MiB of a ${(backlogBytes / 2 ** 20).toFixed(0)} MiB backlog`);
  // Gone before the services stop: a client that never reads would hold their shutdown until its deadline.
  session.destroy();
  assert.ok(read > 0, 'the stream started');
  assert.ok(read <= 2 * consumeFrameMaxBytes, `the server read ${read} bytes ahead of a client that reads nothing`);
});
