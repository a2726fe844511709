import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService, type PublishStreamResponse } from '../../gen/minitoolstream/ingress_pb.js';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { payload } from '../testing/conformance-harness.js';
import { consume } from '../testing/consume.js';
import { startS3Server } from '../testing/s3-server.js';
import { remoteStorageEnv, startServiceProcess } from '../testing/service-process.js';
import { startTarantool } from '../testing/tarantool-server.js';
import { transportFor } from '../testing/test-services.js';

const publishers = 3;
const requestsPerStream = 20;
const messagesPerRequest = 25;
const subject = 'orders.streamed';

/** Storage every process shares: one Tarantool with s3rver, or one embedded folder. */
const sharedStorage: Record<string, (t: TestContext) => Promise<Record<string, string>>> = {
  async tarantool(t) {
    const [tarantool, s3] = await Promise.all([startTarantool(t), startS3Server(t)]);
    return { ...remoteStorageEnv(tarantool, s3), INLINE_MAX_BYTES: '1024' };
  },
  async embedded(t) {
    const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-streams-'));
    t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
    return { STORAGE: 'embedded', MTS_DATA_DIR: dir, INLINE_MAX_BYTES: '1024' };
  },
};

const dataOf = (publisher: number, request: number, index: number) => {
  // Every tenth message is large enough for the object store.
  const data = payload(index % 10 === 0 ? 3000 : 40, publisher * 10_000 + request * 100 + index);
  data.set([publisher, request, index]);
  return data;
};

for (const [backend, storage] of Object.entries(sharedStorage)) {
  test(`three ingress processes streaming to one subject get gapless sequences in each stream's order (${backend})`, async (t) => {
    const env = await storage(t);
    const [egressProcess, ...ingressProcesses] = await Promise.all([
      startServiceProcess(t, 'egress', env),
      ...Array.from({ length: publishers }, () => startServiceProcess(t, 'ingress', env)),
    ]);
    const total = publishers * requestsPerStream * messagesPerRequest;
    const bySequence = new Map<bigint, Uint8Array>();

    await Promise.all(
      ingressProcesses.map(async (process, publisher) => {
        async function* requests() {
          for (let request = 0; request < requestsPerStream; request++) {
            const messages = Array.from({ length: messagesPerRequest }, (_, index) => ({
              subject,
              data: dataOf(publisher, request, index),
            }));
            yield { id: BigInt(request), messages };
          }
        }
        const ingress = createClient(IngressService, transportFor(process.url));
        const responses: PublishStreamResponse[] = [];
        for await (const response of ingress.publishStream(requests())) responses.push(response);
        assert.deepEqual(
          responses.map((response) => [response.id, response.errorCode]),
          Array.from({ length: requestsPerStream }, (_, request) => [BigInt(request), '']),
        );
        let previous = 0n;
        for (const response of responses) {
          const sequences = response.results.map((result) => result.sequence);
          // One atomic batch: consecutive sequences, after the stream's previous batch.
          assert.ok(sequences[0]! > previous, `request ${response.id} committed before an earlier one of its stream`);
          assert.deepEqual(
            sequences,
            sequences.map((_, index) => sequences[0]! + BigInt(index)),
          );
          previous = sequences.at(-1)!;
          sequences.forEach((sequence, index) => bySequence.set(sequence, dataOf(publisher, Number(response.id), index)));
        }
      }),
    );

    assert.deepEqual(
      [...bySequence.keys()].sort((a, b) => Number(a - b)),
      Array.from({ length: total }, (_, index) => BigInt(index + 1)),
    );
    const egress = createClient(EgressService, transportFor(egressProcess!.url));
    const received = await consume(egress, { subject, durableName: 'auditor', count: total, batchSize: 500 });
    assert.deepEqual(
      received.map((message) => message.sequence),
      [...bySequence.keys()].sort((a, b) => Number(a - b)),
    );
    for (const message of received) assertSameBytes(message.data, bySequence.get(message.sequence)!, `sequence ${message.sequence}`);
  });
}
