import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { payload } from '../testing/conformance-harness.js';
import { consume } from '../testing/consume.js';
import { startS3Server } from '../testing/s3-server.js';
import { remoteStorageEnv, startServiceProcess } from '../testing/service-process.js';
import { startTarantool } from '../testing/tarantool-server.js';
import { transportFor } from '../testing/test-services.js';

const publishers = 3;
const perPublisher = 100;
const subject = 'orders.concurrent';
// Small enough that every fifth message goes through the object store.
const inlineMaxBytes = 1024;

/** Publisher p's message i: its size alternates between inline and object-store paths. */
function messageOf(publisher: number, index: number): Uint8Array {
  const size = index % 5 === 0 ? inlineMaxBytes * 3 : 16 + index;
  const data = payload(size, publisher * 1000 + index);
  data[0] = publisher;
  data[1] = index;
  return data;
}

test('three ingress processes publishing to one subject get gapless sequences, consumed in order', async (t) => {
  const [tarantool, s3] = await Promise.all([startTarantool(t), startS3Server(t)]);
  const env = { ...remoteStorageEnv(tarantool, s3), INLINE_MAX_BYTES: String(inlineMaxBytes) };
  const [egressProcess, ...ingressProcesses] = await Promise.all([
    startServiceProcess(t, 'egress', env),
    ...Array.from({ length: publishers }, () => startServiceProcess(t, 'ingress', env)),
  ]);
  const total = publishers * perPublisher;
  const egress = createClient(EgressService, transportFor(egressProcess!.url));
  const consumed = consume(egress, { subject, durableName: 'auditor', count: total, batchSize: 50 });

  const bySequence = new Map<bigint, Uint8Array>();
  const latenciesMs: number[] = [];
  await Promise.all(
    ingressProcesses.map(async (process, publisher) => {
      const ingress = createClient(IngressService, transportFor(process.url));
      for (let index = 0; index < perPublisher; index++) {
        const data = messageOf(publisher, index);
        const startedAt = performance.now();
        const { sequence, objectName } = await ingress.publish({ subject, data });
        latenciesMs.push(performance.now() - startedAt);
        assert.equal(objectName !== '', data.length > inlineMaxBytes);
        assert.ok(!bySequence.has(sequence), `sequence ${sequence} was handed out twice`);
        bySequence.set(sequence, data);
      }
    }),
  );

  const sequences = [...bySequence.keys()].sort((a, b) => (a < b ? -1 : 1));
  assert.deepEqual(
    sequences,
    Array.from({ length: total }, (_, index) => BigInt(index + 1)),
  );
  const received = await consumed;
  assert.deepEqual(
    received.map((message) => message.sequence),
    sequences,
  );
  for (const message of received) {
    assertSameBytes(message.data, bySequence.get(message.sequence)!, `payload of sequence ${message.sequence}`);
  }
  assert.equal((await egress.getLastSequence({ subject })).lastSequence, BigInt(total));

  latenciesMs.sort((a, b) => a - b);
  const at = (quantile: number) => latenciesMs[Math.floor(quantile * (latenciesMs.length - 1))]!.toFixed(1);
  t.diagnostic(`publish latency over 3 concurrent publishers: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
});
