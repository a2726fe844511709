import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { PublishRequestSchema, PublishResponseSchema } from '../../gen/minitoolstream/ingress_pb.js';
import { startS3Server } from '../testing/s3-server.js';
import { remoteStorageEnv, startServiceProcess } from '../testing/service-process.js';
import { startTarantool } from '../testing/tarantool-server.js';

const MiB = 1024 * 1024;
const concurrentPublishes = 20;
const payloadBytes = 60 * MiB;
// Under the 1 GiB with room for a loaded machine's GC; the printed figure shows the
// margin to the 512 MiB pod limit (the test runs the service under tsx, which adds its own).
const peakRssBoundBytes = 768 * MiB;

type Outcome = { sequence: bigint } | { grpcStatus: string; message: string };

/**
 * One gRPC Publish over `session` with an already framed request body. The
 * same body buffer is written to every stream, so twenty 60 MiB calls cost
 * this process one copy (a generated client would serialize twenty).
 */
function publish(session: ClientHttp2Session, framed: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/minitoolstream.IngressService/Publish',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message = '';
    const take = (headers: Record<string, unknown>) => {
      if (headers['grpc-status'] === undefined) return;
      status = String(headers['grpc-status']);
      message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => {
      if (status === undefined) return reject(new Error(`stream closed without a gRPC status (rst ${stream.rstCode})`));
      if (status !== '0') return resolve({ grpcStatus: status, message });
      const body = Buffer.concat(chunks);
      resolve({ sequence: fromBinary(PublishResponseSchema, body.subarray(5)).sequence });
    });
    stream.end(framed);
  });
}

/** The gRPC frame of a Publish request: flag byte, big-endian length, protobuf. */
function framedPublish(subject: string, data: Uint8Array): Buffer {
  const message = toBinary(PublishRequestSchema, create(PublishRequestSchema, { subject, data }));
  const framed = Buffer.alloc(5 + message.byteLength);
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, 5);
  return framed;
}

/** Peak resident set size of a process (VmHWM), from /proc. */
async function peakRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

const stacks: Record<string, (t: TestContext) => Promise<Record<string, string>>> = {
  'Tarantool + S3': async (t) => {
    const [tarantool, s3] = await Promise.all([startTarantool(t), startS3Server(t)]);
    return remoteStorageEnv(tarantool, s3);
  },
  embedded: async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mts-pressure-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    return { STORAGE: 'embedded', MTS_DATA_DIR: dataDir };
  },
};

for (const [stack, storageEnv] of Object.entries(stacks)) {
  test(`20 concurrent 60 MiB publishes on ${stack} commit or get resource_exhausted, in bounded memory`, (t) => pressure(t, storageEnv));
}

async function pressure(t: TestContext, storageEnv: (t: TestContext) => Promise<Record<string, string>>): Promise<void> {
  // The shipped defaults: PAYLOAD_IN_FLIGHT_MAX_BYTES, PAYLOAD_ADMISSION_WAIT_MS, MAX_MESSAGE_BYTES.
  const ingress = await startServiceProcess(t, 'ingress', await storageEnv(t));
  // Node's http2 client counts queued outgoing data against maxSessionMemory (10 MB by default)
  // and resets its own streams beyond it; these calls queue 20 x 60 MiB.
  const session = connect(ingress.url, { maxSessionMemory: 4096 });
  t.after(() => session.close());
  const framed = framedPublish('large.pressure', new Uint8Array(payloadBytes).fill(7));

  const outcomes = await Promise.all(Array.from({ length: concurrentPublishes }, () => publish(session, framed)));
  const peakRss = await peakRssBytes(ingress.pid);
  const committed = outcomes.flatMap((outcome) => ('sequence' in outcome ? [outcome.sequence] : []));
  const refused = outcomes.flatMap((outcome) => ('grpcStatus' in outcome ? [outcome] : []));
  t.diagnostic(`committed ${committed.length}, refused ${refused.length}, ingress peak RSS ${(peakRss / MiB).toFixed(0)} MiB`);
  for (const { grpcStatus, message } of refused) {
    assert.equal(grpcStatus, '8', `resource_exhausted, not ${grpcStatus}: ${message}`);
    assert.match(message, /PAYLOAD_IN_FLIGHT_MAX_BYTES/);
  }
  assert.deepEqual(
    committed.sort((a, b) => (a < b ? -1 : 1)),
    Array.from({ length: committed.length }, (_, index) => BigInt(index + 1)),
  );
  assert.ok(peakRss <= peakRssBoundBytes, `ingress peak RSS ${peakRss} bytes exceeds ${peakRssBoundBytes}`);

  const later = await publish(session, framed);
  assert.deepEqual(later, { sequence: BigInt(committed.length + 1) }, 'a later 60 MiB publish succeeds');
}
