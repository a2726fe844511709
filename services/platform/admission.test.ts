import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import { test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { collect, overrideObjects, payload } from '../testing/conformance-harness.js';
import { embeddedBackend } from '../testing/embedded-backend.js';
import { startTestServices, transportFor, type Protocol } from '../testing/test-services.js';
import { wrapBackend } from '../testing/wrapped-backend.js';

const MiB = 1024 * 1024;
const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];

test('payload bytes in flight are bounded per process: beyond the bound calls wait, then get resource_exhausted', async (t) => {
  // Uploads of the subject "held" wait until the test lets them go.
  let letGo: () => void = () => {};
  const released = new Promise<void>((resolve) => (letGo = resolve));
  let heldUploadStarted: () => void = () => {};
  const heldUpload = new Promise<void>((resolve) => (heldUploadStarted = resolve));
  const backend = wrapBackend(embeddedBackend, {
    objects: (inner) =>
      overrideObjects(inner, {
        async put(key, data, contentType, signal) {
          if (key.startsWith('held/')) {
            heldUploadStarted();
            await released;
          }
          return inner.put(key, data, contentType, signal);
        },
      }),
  });
  const services = await startTestServices(t, {
    backend,
    env: { MAX_MESSAGE_BYTES: String(10 * MiB), PAYLOAD_IN_FLIGHT_MAX_BYTES: String(11 * MiB), PAYLOAD_ADMISSION_WAIT_MS: '200' },
  });
  const ingress = (protocol: Protocol) => createClient(IngressService, transportFor(services.ingress.url, protocol));
  const egress = createClient(EgressService, transportFor(services.egress.url));
  const large = payload(6 * MiB, 1);
  await ingress('grpc').publish({ subject: 'stored', data: large });

  const held = ingress('grpc').publish({ subject: 'held', data: large });
  await heldUpload;
  assert.ok(services.payloadBudget.inFlightBytes >= large.byteLength, 'the held publish has its room');
  const exhausted = (error: unknown) => {
    const connectError = ConnectError.from(error);
    assert.equal(connectError.code, Code.ResourceExhausted);
    assert.match(connectError.rawMessage, /PAYLOAD_IN_FLIGHT_MAX_BYTES/);
    return true;
  };
  for (const protocol of protocols) {
    await assert.rejects(ingress(protocol).publish({ subject: 'refused', data: large }), exhausted, protocol);
  }
  await assert.rejects(async () => {
    for await (const message of egress.fetch({ subject: 'stored', durableName: 'reader' })) assert.fail(`got ${message.sequence}`);
  }, exhausted);
  // PublishStream counts each batch too: one that finds no room is answered resource_exhausted, and
  // the stream goes on with what fits.
  const streamed = await collect(
    ingress('grpc').publishStream(
      createAsyncIterable([
        { id: 1n, messages: [{ subject: 'refused.stream', data: large }] },
        { id: 2n, messages: [{ subject: 'small.stream', data: payload(1024) }] },
      ]),
    ),
  );
  assert.deepEqual(
    streamed.map(({ id, errorCode, results }) => [id, errorCode, results.map((result) => result.sequence)]),
    [
      [1n, 'resource_exhausted', []],
      [2n, '', [1n]],
    ],
  );
  assert.match(streamed[0]!.errorMessage, /PAYLOAD_IN_FLIGHT_MAX_BYTES/);
  // What fits still goes through (gRPC declares its size; a chunked Connect body counts as the largest).
  assert.equal((await ingress('grpc').publish({ subject: 'small', data: payload(1024) })).sequence, 1n);

  letGo();
  assert.equal((await held).sequence, 1n);
  for (const [index, protocol] of protocols.entries()) {
    assert.equal((await ingress(protocol).publish({ subject: 'refused', data: large })).sequence, BigInt(index + 1), protocol);
  }
  const [afterRelease] = await collect(
    ingress('grpc').publishStream(createAsyncIterable([{ id: 3n, messages: [{ subject: 'refused.stream', data: large }] }])),
  );
  assert.deepEqual([afterRelease!.errorCode, afterRelease!.results.map((result) => result.sequence)], ['', [1n]]);
  const fetched = [];
  for await (const message of egress.fetch({ subject: 'stored', durableName: 'reader' })) fetched.push(message.data.byteLength);
  assert.deepEqual(fetched, [large.byteLength]);
  assert.equal(services.payloadBudget.inFlightBytes, 0, 'every call gave its room back');
});

test('a body that stalls inside its first frame header holds no room and blocks no other call', async (t) => {
  const services = await startTestServices(t);
  const session = http2.connect(services.ingress.url);
  t.after(() => session.destroy());
  const stalled = session.request({
    ':method': 'POST',
    ':path': '/minitoolstream.IngressService/Publish',
    'content-type': 'application/grpc',
  });
  const closed = new Promise<void>((resolve) => stalled.once('close', resolve));
  stalled.on('error', () => {});
  // Three of the five header bytes, then nothing.
  stalled.write(Buffer.from([0, 0, 0]));
  await once(stalled, 'ready');
  const ingress = createClient(IngressService, transportFor(services.ingress.url));
  for (let index = 1; index <= 3; index++) {
    assert.equal((await ingress.publish({ subject: 'beside', data: payload(100, index) })).sequence, BigInt(index));
  }
  assert.equal(services.payloadBudget.inFlightBytes, 0);
  stalled.close(http2.constants.NGHTTP2_CANCEL);
  await closed;
});
